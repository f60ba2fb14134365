import { type RequestListener, STATUS_CODES } from 'node:http'
import {
  type Fill,
  type HeldWrite,
  type MissView,
  type Replay,
  type RequestPort,
  serverListener,
} from '@cachet/core/adapter'
import type { Context, Next } from 'koa'
import { forwardMiss, withCacheHeaders } from './forward'
import type { Identify } from './types'

/**
 * Writes a response the cache made straight to `res`: its status, headers
 * and bytes were all computed when the entry was stored, and Koa's own body
 * and header machinery would only redo that work. Koa is told not to respond
 * (`ctx.respond = false`), so middleware that rewrites `ctx.body` after
 * `await next()` does not see hits.
 */
export function writeHit(ctx: Context, r: Replay): void {
  ctx.respond = false
  // Its own reason phrase: `ctx.status = 503` (or 304) set the route's on `res`.
  ctx.res.writeHead(r.status, STATUS_CODES[r.status] ?? 'unknown', r.headers)
  ctx.res.end(r.body)
}

type Result = void | Promise<void>

/** One request, as core's flow sees it; carries out each decision on Koa's `ctx`. */
export class KoaPort implements RequestPort<Result> {
  readonly method: string
  readonly url: string
  constructor(
    readonly ctx: Context,
    readonly downstream: Next,
    readonly user: Identify,
    readonly appListener: () => RequestListener | undefined,
  ) {
    this.method = ctx.method
    this.url = ctx.originalUrl
  }
  get headers() {
    return this.ctx.headers
  }
  get req() {
    return this.ctx.req
  }
  get res() {
    return this.ctx.res
  }
  identify() {
    return this.user(this.ctx)
  }
  listener() {
    return serverListener(this.ctx.req) ?? this.appListener()
  }
  next() {
    return this.downstream()
  }
  send(r: Replay) {
    writeHit(this.ctx, r)
  }
  async pass(outcome: readonly [string, string]) {
    this.ctx.set('x-cache', outcome[0])
    this.ctx.set('cache-status', outcome[1])
    try {
      await this.downstream()
    } catch (err) {
      throw withCacheHeaders(err, outcome)
    }
  }
  forward(fill: Fill, view: MissView) {
    return forwardMiss(this.ctx, this.downstream, fill, view)
  }
  async hold(write: HeldWrite) {
    const ctx = this.ctx
    await this.downstream()
    if (!write.holds(ctx.status)) return
    try {
      await write.invalidate({
        location: ctx.response.get('location') || undefined,
        'content-location': ctx.response.get('content-location') || undefined,
      })
    } catch (err) {
      ctx.app.emit('cachet:invalidation-error', err, ctx)
      const { status, headers, body } = write.failure
      for (let i = 0; i + 1 < headers.length; i += 2)
        ctx.set(headers[i] as string, headers[i + 1] as string)
      ctx.body = body
      ctx.status = status
    }
  }
  fail(err: unknown): never {
    throw err
  }
}
