import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http'
import { performance } from 'node:perf_hooks'
import { CachetConfigError } from '../errors'
import type { Conditionals } from '../http/conditional'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationTarget } from '../invalidation/target'
import type { CacheRule, CompiledCacheRule, RuleMatch } from '../rules/types'
import {
  registerListener,
  type WarmInput,
  type WarmOptions,
  type WarmSummary,
  warmCache,
} from '../warm/warm'
import type { CacheEngine, ExplainRequest, RefreshClaim } from './engine'
import type { CacheEvents, CacheStats, Explanation, InvalidationRecord } from './events'
import { type Exchange, splitUrl } from './exchange'
import type { Fill } from './fill'
import { internalRequest } from './internal-request'
import { type CacheOptions, checkMiddlewareInput } from './options'
import { type Replay, replay } from './replay'
import type { ReadyStatus } from './tier-log'

/** What a request handler can reach as `req.cache` (Express) or `ctx.cache` (Koa). */
export interface RequestCache {
  /**
   * Invalidates by tags, path pattern or user, in every process. Resolves
   * with what it did once no response stored before the call can be served
   * by any process; rejects (`CachetInvalidationError`) when that cannot be
   * promised, or at once when the target is malformed.
   */
  invalidate(target: InvalidationTarget): Promise<InvalidationRecord>
}

/** What both adapters' middleware functions carry beside being middleware. */
export interface CacheHandle extends RequestCache {
  readonly engine: CacheEngine
  /** Invalidates every response this cache stored, in every process. */
  purge(): Promise<InvalidationRecord>
  /** Why a request would (not) be served from or stored in the cache; reads nothing from Redis. */
  explain(request: ExplainRequest): Explanation
  /** A snapshot of the counters: hits, misses, bypasses by reason, tiers, invalidations. */
  stats(): CacheStats
  /** Listens to the cache's events (`hit`, `miss`, `bypass`, `invalidate`, `breaker`, …). */
  on<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this
  /** Stops listening. */
  off<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this
  /**
   * Resolves once the shared tier's bus is connected, or after a bounded wait
   * (2 s) when it cannot be reached, with what happened:
   * `{ shared: 'connected' }`, `{ shared: 'unreachable', cause }` (cause like
   * `ECONNREFUSED 127.0.0.1:6379`; requests are served from the origin
   * meanwhile, and the tier keeps trying), or `{ shared: 'none' }` without a
   * shared tier. Never rejects: the cache fails open.
   */
  readonly ready: Promise<ReadyStatus>
  close(): Promise<void>
  /**
   * Wraps the app's request listener so that memory hits are answered before
   * the framework runs: `http.createServer(cache.edge(app))` (Express) or
   * `cache.edge(app.callback())` (Koa). Everything else — misses, per-user
   * rules, writes — goes on to the app and its cache middleware.
   */
  edge(listener: RequestListener): RequestListener
  /**
   * Fetches URLs through the app so that the cache holds them: a list, or
   * `{ top: n }` (the most requested, with `warm.track`). See `WarmOptions`:
   * before the first request, pass `{ listener }`.
   */
  warm(input: WarmInput, options?: WarmOptions): Promise<WarmSummary>
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

/** Answers memory hits of non-per-user GET/HEAD rules at the server's edge; passes the rest on. */
function edgeListener(engine: CacheEngine, listener: RequestListener): RequestListener {
  return function cachetEdge(req, res) {
    const method = req.method
    if (method === 'GET' || method === 'HEAD') {
      const started = performance.now()
      const { path, rawQuery } = splitUrl(req.url ?? '/')
      const m = engine.match(method, path)
      if (m !== undefined && m.rule.kind === 'cache') {
        const ex: Exchange = { method, path, rawQuery, headers: req.headers, user: undefined }
        const entry = engine.peek(m as RuleMatch<CompiledCacheRule>, ex)
        if (entry !== undefined) {
          const r = replay(
            entry,
            Date.now(),
            req.headers,
            method === 'HEAD',
            undefined,
            m.rule.cacheControl,
          )
          res.writeHead(r.status, r.headers)
          res.end(r.body)
          engine.observe(m.rule as CompiledCacheRule, 'hit', (performance.now() - started) / 1000)
          return
        }
      }
    }
    listener(req, res)
  }
}

/**
 * Gives a middleware function its handle: `engine`, `ready`, `invalidate`,
 * `close`, `edge`, `warm`. Starting the engine here means a shared tier that
 * is down at start-up never stops the app: requests are answered (from the
 * origin) while the bus keeps trying. `appListener` returns the app's request
 * listener once the middleware has seen a request (for `warm`).
 */
export function withHandle<F extends object>(
  middleware: F,
  engine: CacheEngine,
  appListener?: () => RequestListener | undefined,
): F & CacheHandle {
  if (appListener !== undefined) registerListener(engine, appListener)
  const ready = engine
    .start()
    .catch((err: Error): ReadyStatus => ({ shared: 'unreachable', cause: err.message }))
  return Object.defineProperties(middleware, {
    engine: { value: engine },
    ready: { value: ready },
    invalidate: { value: (target: InvalidationTarget) => engine.invalidate(target) },
    purge: { value: () => engine.purge() },
    explain: { value: (request: ExplainRequest) => engine.explain(request) },
    stats: { value: () => engine.stats() },
    on: {
      value(this: F, event: keyof CacheEvents, listener: (...args: never[]) => void) {
        engine.on(event, listener as never)
        return this
      },
    },
    off: {
      value(this: F, event: keyof CacheEvents, listener: (...args: never[]) => void) {
        engine.off(event, listener as never)
        return this
      },
    },
    close: { value: () => engine.close() },
    edge: { value: (listener: RequestListener) => edgeListener(engine, listener) },
    warm: {
      value: (input: WarmInput, options?: WarmOptions) => warmCache(engine, input, options),
    },
  }) as F & CacheHandle
}

/**
 * The user id in what an app's auth left on the request: a string, or an
 * object with an `id`. Both adapters' default `identify` read it.
 */
export function userIdOf(user: unknown): string | undefined {
  if (typeof user === 'string') return user
  if (user !== null && typeof user === 'object') {
    const id = (user as { id?: unknown }).id
    if (typeof id === 'string' || typeof id === 'number') return String(id)
  }
  return undefined
}

/**
 * Splits what an adapter's `cacheMiddleware()` takes (rules, or options with
 * an adapter-specific `identify`) into the engine's options and `identify`.
 */
export function splitAdapterOptions<F extends (request: never) => string | undefined>(
  input: readonly CacheRule[] | (CacheOptions & { identify?: F }),
  fallback: F,
): [CacheOptions, F] {
  checkMiddlewareInput(input)
  if (Array.isArray(input)) return [{ rules: input }, fallback]
  const { identify = fallback, ...options } = input as CacheOptions & { identify?: F }
  if (typeof identify !== 'function') {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      'option "identify": expected a function returning the user id',
    )
  }
  return [options, identify]
}

/**
 * Starts the background refresh a stale-while-revalidate answer claimed: a
 * GET for `url` through `listener` (the app), carrying the headers of the
 * request that found the stale copy. The cache middleware recognises it and
 * fills the entry; whatever it answers goes nowhere. Without a listener the
 * refresh is over at once (another may start later).
 */
export function refreshInBackground(
  engine: CacheEngine,
  claim: RefreshClaim,
  rule: string,
  listener: RequestListener | undefined,
  from: IncomingMessage,
  url: string,
): void {
  if (listener === undefined) {
    engine.refreshSettled(claim, rule)
    return
  }
  void internalRequest(listener, { url, from }, engine.refreshTimeoutMs).then(() =>
    engine.refreshSettled(claim, rule),
  )
}

/** The conditional fields of a request, kept before a miss removes them from the route's view. */
export function conditionalsOf(headers: IncomingHttpHeaders): Conditionals | undefined {
  const inm = headers['if-none-match']
  const ims = headers['if-modified-since']
  const ae = headers['accept-encoding']
  if (inm === undefined && ims === undefined && ae === undefined) return undefined
  return { 'if-none-match': inm, 'if-modified-since': ims, 'accept-encoding': ae }
}

/**
 * Sets the conditional fields the route of a miss sees: the client's own are
 * removed (the cache answers them itself, from the stored entry: a route that
 * honoured them would answer 304, leaving nothing to store), and, origin-driven
 * with a stored copy past its freshness, the copy's validators take their
 * place (`Fill.conditionalHeaders`, RFC 9111 §4.3.1).
 */
export function routeConditionals(fill: Fill, headers: IncomingHttpHeaders): void {
  delete headers['if-none-match']
  delete headers['if-modified-since']
  const own = fill.conditionalHeaders()
  if (own === undefined) return
  Object.assign(headers, own)
  fill.markRevalidating()
}

/**
 * The route answered the cache's conditional request `304`: the refreshed
 * stored copy (`Fill.notModified`), as the adapter writes it, after removing
 * the 304's headers from `res` (the outer layers' are set again).
 */
export function revalidatedReplay(
  res: ServerResponse,
  fill: Fill,
  headers: OutgoingHttpHeaders,
  conditionals: Conditionals | undefined,
): Replay {
  const entry = fill.notModified(headers)
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  for (const [name, value] of Object.entries(fill.outerHeaders))
    if (value !== undefined) res.setHeader(name, value)
  const mismatch = fill.veto === 'validator-mismatch'
  return replay(
    entry,
    Date.now(),
    conditionals,
    false,
    { reason: 'revalidated', mismatch },
    fill.rule.cacheControl,
  )
}

/**
 * The stale-if-error copy that replaces an origin failure (`status` 0: a
 * thrown error), as the adapter writes it, after removing every header the
 * failure had set on `res`. Stores nothing and counts the stale answer
 * (`Fill.serveStale`).
 */
export function staleIfErrorReplay(
  res: ServerResponse,
  fill: Fill,
  status: number,
  conditionals: Conditionals | undefined,
): Replay {
  const stale = fill.serveStale(status)
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  return replay(
    stale,
    Date.now(),
    conditionals,
    false,
    { reason: 'error', forwarded: true, originStatus: status === 0 ? undefined : status },
    fill.rule.cacheControl,
  )
}

/**
 * The `Cache-Control` a miss sends in place of the route's `Cache-Control`
 * and `Expires` (the adapter removes `Expires`): the rule's `cacheControl`
 * when the response is being stored, as every hit of it will send. A
 * response that is not (`veto`: `Set-Cookie`, `private`, an error status…)
 * keeps the route's own header: `undefined`.
 */
export function missCacheControl(
  fill: Fill,
  veto: ResponseBypassReason | undefined,
): string | undefined {
  return veto === undefined ? fill.rule.cacheControl : undefined
}

/** Records a miss's latency, from the lookup to the end of the response, once it is sent. */
export function observeMiss(
  engine: CacheEngine,
  rule: CompiledCacheRule,
  res: ServerResponse,
  started: number,
): void {
  res.once('finish', () => engine.observe(rule, 'miss', (performance.now() - started) / 1000))
}
