import type { Readable } from 'node:stream'
import {
  type Fill,
  fillOutcome,
  type MissView,
  nodeHeaders,
  replacementFor,
  withQuery,
} from '@cachet/core/adapter'
import type { Context, Next } from 'koa'
import { captureBody } from './capture'
import { writeHit } from './port'

function isStream(body: unknown): body is Readable {
  return (
    body !== null && typeof body === 'object' && typeof (body as Readable).destroy === 'function'
  )
}

/**
 * Koa answers a thrown error after removing every header set so far, then
 * sets the error's own `headers`: the cache's headers go there, so that the
 * error response still says what the cache did (CONTRACT.md: every response
 * to a matched route carries `X-Cache`).
 */
export function withCacheHeaders(
  err: unknown,
  [outcome, status]: readonly [string, string],
): unknown {
  if (err === null || typeof err !== 'object') return err
  const e = err as { headers?: Record<string, string> }
  e.headers = { ...e.headers, 'x-cache': outcome, 'cache-status': status }
  return err
}

/**
 * Sends the stored copy core chose in place of the route's answer (a
 * stale-if-error copy for a 5xx, or an error thrown: `status` 0; the
 * refreshed copy for a 304 to the cache's own conditional request). False
 * when the route's answer goes out as it is.
 */
function replaced(ctx: Context, fill: Fill, status: number, view: MissView): boolean {
  const r = replacementFor(
    fill,
    status,
    nodeHeaders(ctx.res),
    ctx.res.headersSent,
    view.conditionals,
  )
  if (r === undefined) return false
  const body: unknown = ctx.body
  if (isStream(body)) body.destroy()
  writeHit(ctx, r)
  return true
}

/** Lets downstream answer a miss as core's `view` says, then records what it left in `ctx.body`. */
export async function forwardMiss(ctx: Context, next: Next, fill: Fill, view: MissView) {
  if (view.query !== undefined) {
    ctx.querystring = view.query
    ctx.originalUrl = withQuery(ctx.originalUrl, view.query)
    ctx.request.originalUrl = ctx.originalUrl
  }
  const head = ctx.method === 'HEAD'
  // Koa sends no body for HEAD itself.
  if (view.asGet) ctx.method = 'GET'
  try {
    await next()
  } catch (err) {
    // Koa answers an error without a status (or with `expose: false`) as 500;
    // a 4xx thrown on purpose (`ctx.throw(404)`) is an answer, not a failure.
    const status = (err as { status?: unknown } | null)?.status
    const failure = typeof status !== 'number' || status >= 500
    if (failure && fill.stale !== undefined && !fill.detached && !ctx.res.headersSent) {
      ctx.app.emit('error', err, ctx)
      if (replaced(ctx, fill, typeof status === 'number' ? status : 0, view)) return
    }
    fill.onAbort()
    throw withCacheHeaders(err, fillOutcome(fill.veto ?? 'status', fill.forwardedStale))
  } finally {
    if (head) ctx.method = 'HEAD'
  }
  if (replaced(ctx, fill, ctx.status, view)) return
  await captureBody(ctx, fill, head)
}
