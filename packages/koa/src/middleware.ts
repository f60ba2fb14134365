import { type RequestListener, STATUS_CODES } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'
import {
  bypassOutcome,
  CacheEngine,
  type CacheHandle,
  type CacheOptions,
  type CacheRule,
  type CompiledCacheRule,
  type CompiledWriteRule,
  type Conditionals,
  conditionalsOf,
  type Exchange,
  type Fill,
  fillOutcome,
  isInternalRequest,
  narrowRequest,
  ONLY_IF_CACHED_UNAVAILABLE,
  observeMiss,
  type RequestCache,
  type RuleMatch,
  refreshInBackground,
  replay,
  revalidatedReplay,
  routeConditionals,
  ruleNeedsUser,
  serverListener,
  splitAdapterOptions,
  splitUrl,
  staleIfErrorReplay,
  userIdOf,
  WRITE_INVALIDATION_FAILED,
  withHandle,
  withQuery,
} from '@cachet/core'
import type Application from 'koa'
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
  // Its own reason phrase: `ctx.status = 503` (or 304) set the route's on `res`.
  ctx.res.writeHead(r.status, STATUS_CODES[r.status] ?? 'unknown', r.headers)
  ctx.res.end(r.body)
}

const listeners = new WeakMap<Application, ReturnType<Application['callback']>>()

/** The app's request listener, for internal requests when the server's is unknown. */
function appListener(app: Application): ReturnType<Application['callback']> {
  let listener = listeners.get(app)
  if (listener === undefined) {
    listener = app.callback()
    listeners.set(app, listener)
  }
  return listener
}

function isStream(body: unknown): body is Readable {
  return (
    body !== null && typeof body === 'object' && typeof (body as Readable).destroy === 'function'
  )
}

/**
 * Sends a stale-if-error copy in place of the origin's failure: a 5xx the
 * route set, or an error it threw (`status` 0; the app still hears of it).
 */
function serveStale(
  ctx: Context,
  fill: Fill,
  status: number,
  conditionals: Conditionals | undefined,
) {
  const body: unknown = ctx.body
  if (isStream(body)) body.destroy()
  writeHit(ctx, staleIfErrorReplay(ctx.res, fill, status, conditionals))
}

/**
 * Koa answers a thrown error after removing every header set so far, then
 * sets the error's own `headers`: the cache's headers go there, so that the
 * error response still says what the cache did (CONTRACT.md: every response
 * to a matched route carries `X-Cache`).
 */
function withCacheHeaders(err: unknown, [outcome, status]: readonly [string, string]): unknown {
  if (err === null || typeof err !== 'object') return err
  const e = err as { headers?: Record<string, string> }
  e.headers = { ...e.headers, 'x-cache': outcome, 'cache-status': status }
  return err
}

/**
 * Gives downstream of a fill only what the key holds: the headers the rule
 * keys or passes, and the keyed query parameters (`ctx.querystring`,
 * `ctx.originalUrl`).
 */
function narrowView(ctx: Context, fill: Fill): void {
  const { rawQuery } = splitUrl(ctx.originalUrl)
  const query = narrowRequest(fill.rule, rawQuery, ctx.req.headers, ctx.req.rawHeaders)
  if (query === undefined) return
  ctx.querystring = query
  ctx.originalUrl = withQuery(ctx.originalUrl, query)
  ctx.request.originalUrl = ctx.originalUrl
}

/** Lets downstream answer a miss, then records what it left in `ctx.body`. */
async function forward(ctx: Context, next: Next, fill: Fill): Promise<void> {
  const conditionals = conditionalsOf(ctx.headers)
  fill.setOuterHeaders(ctx.res.getHeaders())
  narrowView(ctx, fill)
  routeConditionals(fill, ctx.headers)
  const head = ctx.method === 'HEAD'
  // A HEAD miss fills the GET entry; Koa sends no body for HEAD.
  if (head && fill.rule.methods.has('GET')) ctx.method = 'GET'
  try {
    await next()
  } catch (err) {
    // Koa answers an error without a status (or with `expose: false`) as 500;
    // a 4xx thrown on purpose (`ctx.throw(404)`) is an answer, not a failure.
    const status = (err as { status?: unknown } | null)?.status
    const failure = typeof status !== 'number' || status >= 500
    if (failure && fill.stale !== undefined && !ctx.res.headersSent) {
      ctx.app.emit('error', err, ctx)
      return serveStale(ctx, fill, typeof status === 'number' ? status : 0, conditionals)
    }
    fill.onAbort()
    throw withCacheHeaders(err, fillOutcome(fill.veto ?? 'status', fill.forwardedStale))
  } finally {
    if (head) ctx.method = 'HEAD'
  }
  if (fill.stale !== undefined && ctx.status >= 500 && !ctx.res.headersSent)
    return serveStale(ctx, fill, ctx.status, conditionals)
  if (fill.revalidating && ctx.status === 304 && !ctx.res.headersSent) {
    // The route answered the cache's own conditional request: the refreshed copy goes out.
    const body: unknown = ctx.body
    if (isStream(body)) body.destroy()
    return writeHit(ctx, revalidatedReplay(ctx.res, fill, ctx.response.headers, conditionals))
  }
  await captureBody(ctx, fill, head)
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
  /** The app, as the first request saw it: what `cache.warm()` sends its requests through. */
  let listener: RequestListener | undefined

  const middleware = async function cachetMiddleware(ctx: Context, next: Next): Promise<void> {
    ctx.cache = requestCache
    if (listener === undefined) listener = serverListener(ctx.req) ?? appListener(ctx.app)
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
        await engine.invalidateAfterWrite(m as RuleMatch<CompiledWriteRule>, ex, {
          location: ctx.response.get('location') || undefined,
          'content-location': ctx.response.get('content-location') || undefined,
        })
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
    if (isInternalRequest(ctx.req)) {
      // The background refresh of a stale entry: fill it, or answer 204.
      const found = engine.revalidate(cacheMatch, ex)
      const fill = found instanceof Promise ? await found : found
      if (fill === undefined) {
        ctx.status = 204
        return
      }
      return forward(ctx, next, fill)
    }
    const started = performance.now()
    const found = engine.lookup(cacheMatch, ex)
    const lookup = found instanceof Promise ? await found : found
    if (lookup.type === 'hit' || lookup.type === 'stale') {
      const stale = lookup.type === 'stale' ? { reason: lookup.reason } : undefined
      // Koa strips the body of a HEAD response itself.
      const cc = cacheMatch.rule.cacheControl
      writeHit(ctx, replay(lookup.entry, Date.now(), ctx.headers, false, stale, cc))
      engine.observe(cacheMatch.rule, 'hit', (performance.now() - started) / 1000)
      if (lookup.type === 'stale' && lookup.refresh !== undefined) {
        refreshInBackground(
          engine,
          lookup.refresh,
          cacheMatch.rule.name,
          serverListener(ctx.req) ?? listener,
          ctx.req,
          ctx.originalUrl,
        )
      }
      return
    }
    if (lookup.type === 'bypass') {
      const outcome = bypassOutcome(lookup.reason)
      ctx.set('x-cache', outcome[0])
      ctx.set('cache-status', outcome[1])
      try {
        await next()
      } catch (err) {
        throw withCacheHeaders(err, outcome)
      }
      return
    }
    if (lookup.type === 'unavailable') {
      const u = ONLY_IF_CACHED_UNAVAILABLE
      writeHit(ctx, { status: u.status, headers: [...u.headers], body: Buffer.from(u.body) })
      return
    }
    observeMiss(engine, cacheMatch.rule, ctx.res, started)
    return forward(ctx, next, lookup.fill)
  }

  return withHandle(middleware, engine, () => listener)
}
