import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import {
  announce,
  captureWhole,
  decideAtHeaders,
  type Fill,
  fillOutcome,
  nodeHeaders,
  type ResponseBypassReason,
  teeIntoFill,
} from '@cachet/core/adapter'
import type { Context } from 'koa'

function isReadable(body: unknown): body is Readable {
  return body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function'
}

/** Records the whole body a route produced as bytes, and hands Koa those bytes. */
function captureBytes(ctx: Context, fill: Fill, bytes: Buffer): void {
  const status = ctx.status
  // Same bytes Koa's respond() would write, so the entry replays them exactly;
  // the status is set again because a body assignment can change it.
  ctx.body = bytes
  ctx.status = status
  captureWhole(fill, status, nodeHeaders(ctx.res), bytes)
}

/** Tees a streamed body into the fill as Koa pipes it to the client. */
function captureStream(ctx: Context, fill: Fill, source: Readable): void {
  const headers = nodeHeaders(ctx.res)
  announce(fill, decideAtHeaders(fill, ctx.status, headers), headers)
  if (!fill.capturing) return
  const tee = teeIntoFill(fill, source)
  const status = ctx.status
  ctx.body = tee
  ctx.status = status
}

/**
 * Captures what a Koa route left in `ctx.body`, covering the body kinds Koa's
 * `respond()` writes: Buffer, string, JSON value, Node stream, Blob and web
 * ReadableStream. A `Response` object or an empty body is not stored.
 */
export async function captureBody(ctx: Context, fill: Fill, head: boolean): Promise<void> {
  const body: unknown = ctx.body
  if (Buffer.isBuffer(body)) return captureBytes(ctx, fill, body)
  if (typeof body === 'string') return captureBytes(ctx, fill, Buffer.from(body))
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    return captureBytes(ctx, fill, Buffer.from(await body.arrayBuffer()))
  }
  if (
    isReadable(body) ||
    (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream)
  ) {
    // Koa ends a HEAD response without reading its stream: nothing to record.
    if (head) return abandon(ctx, fill, 'body-kind')
    const source = isReadable(body) ? body : Readable.fromWeb(body as WebReadableStream)
    return captureStream(ctx, fill, source)
  }
  if (
    body === null ||
    body === undefined ||
    (typeof Response !== 'undefined' && body instanceof Response)
  ) {
    return abandon(ctx, fill, 'body-kind')
  }
  // A JSON value: Koa's respond() sends JSON.stringify(body), and the
  // assignment of the object already set the JSON content type.
  captureBytes(ctx, fill, Buffer.from(JSON.stringify(body)))
}

function abandon(ctx: Context, fill: Fill, reason: ResponseBypassReason): void {
  fill.onAbort()
  const [, status] = fillOutcome(reason, fill.forwardedStale)
  ctx.set('x-cache', 'BYPASS')
  ctx.set('cache-status', status)
}
