import {
  bypassOutcome,
  CacheEngine,
  type CacheHandle,
  type CacheOptions,
  type CacheRule,
  type CompiledCacheRule,
  type CompiledWriteRule,
  type Exchange,
  type RequestCache,
  type RuleMatch,
  replay,
  ruleNeedsUser,
  splitAdapterOptions,
  splitUrl,
  userIdOf,
  WRITE_INVALIDATION_FAILED,
  withHandle,
} from '@cachet/core'
import type { Context, Middleware, Next } from 'koa'
import { captureBody } from './capture'

/** The verified user of a request, for per-user rules; `undefined` when anonymous. */
export type Identify = (ctx: Context) => string | undefined

export interface KoaCacheOptions extends CacheOptions {
  /**
   * Returns the app's verified user id. Default: `ctx.state.user` when it is a
   * string, or `ctx.state.user.id`. Never derive it from a raw header.
   */
  identify?: Identify
}

export type KoaCacheMiddleware = Middleware & CacheHandle

declare module 'koa' {
  interface ExtendableContext {
    /** Set by cachet on every request that passes its middleware. */
    cache?: RequestCache
  }
}

export function defaultIdentify(ctx: Context): string | undefined {
  return userIdOf(ctx.state?.user)
}

/**
 * Writes a hit straight to the response, as the Express adapter does: the
 * status, headers and bytes were all computed when the entry was stored, and
 * Koa's own body and header machinery would only redo that work. Koa is told
 * not to respond (`ctx.respond = false`), so middleware that rewrites
 * `ctx.body` after `await next()` does not see hits.
 */
function writeHit(ctx: Context, r: ReturnType<typeof replay>): void {
  ctx.respond = false
  ctx.res.writeHead(r.status, r.headers)
  ctx.res.end(r.body)
}

/**
 * `app.use(cacheMiddleware(rules))` for Koa: answers hits without running
 * downstream middleware, records misses from `ctx.body`, and runs a write
 * rule's invalidation before a 2xx write is answered.
 */
export function cacheMiddleware(input: readonly CacheRule[] | KoaCacheOptions): KoaCacheMiddleware {
  const [options, identify] = splitAdapterOptions(input, defaultIdentify)
  const engine = new CacheEngine(options)
  const requestCache: RequestCache = { invalidate: (target) => engine.invalidate(target) }

  const middleware = async function cachetMiddleware(ctx: Context, next: Next): Promise<void> {
    ctx.cache = requestCache
    const { path, rawQuery } = splitUrl(ctx.originalUrl)
    const m = engine.match(ctx.method, path)
    if (m === undefined) return next()
    const ex: Exchange = {
      method: ctx.method,
      path,
      rawQuery,
      headers: ctx.headers,
      user: ruleNeedsUser(m.rule) ? identify(ctx) : undefined,
    }
    if (m.rule.kind === 'invalidate') {
      await next()
      if (ctx.status < 200 || ctx.status > 299) return
      try {
        await engine.invalidateAfterWrite(m as RuleMatch<CompiledWriteRule>, ex)
      } catch (err) {
        ctx.app.emit('cachet:invalidation-error', err, ctx)
        ctx.set('cache-control', 'no-store')
        ctx.type = 'json'
        ctx.body = WRITE_INVALIDATION_FAILED.body
        ctx.status = WRITE_INVALIDATION_FAILED.status
      }
      return
    }
    const cacheMatch = m as RuleMatch<CompiledCacheRule>
    const found = engine.lookup(cacheMatch, ex)
    const lookup = found instanceof Promise ? await found : found
    if (lookup.type === 'hit') {
      // Koa strips the body of a HEAD response itself.
      return writeHit(
        ctx,
        replay(lookup.entry, Date.now(), ctx.get('if-none-match') || undefined, false),
      )
    }
    if (lookup.type === 'bypass') {
      const [outcome, status] = bypassOutcome(lookup.reason)
      ctx.set('x-cache', outcome)
      ctx.set('cache-status', status)
      return next()
    }
    // The cache answers conditional requests itself from the stored entry.
    delete ctx.headers['if-none-match']
    delete ctx.headers['if-modified-since']
    const head = ctx.method === 'HEAD'
    // A HEAD miss fills the GET entry; Koa sends no body for HEAD.
    if (head && cacheMatch.rule.methods.has('GET')) ctx.method = 'GET'
    try {
      await next()
    } catch (err) {
      lookup.fill.onAbort()
      throw err
    } finally {
      if (head) ctx.method = 'HEAD'
    }
    await captureBody(ctx, lookup.fill, head)
  }

  return withHandle(middleware, engine)
}
