import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { CacheEngine, ExplainRequest } from '../engine/engine'
import { type Exchange, splitUrl, tenantOf } from '../engine/exchange'
import { isInternalRequest } from '../engine/internal-request'
import { replay } from '../engine/replay'
import type { InvalidationTarget } from '../invalidation/target'
import type { CacheEvents, CacheStats, Explanation, InvalidationRecord } from '../observe/events'
import type { ReadyStatus } from '../observe/tier-log'
import type { CompiledCacheRule, RuleMatch } from '../rules/types'
import {
  registerListener,
  type WarmInput,
  type WarmOptions,
  type WarmSummary,
  warmCache,
} from '../warm/warm'

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
      // A refresh ahead of expiry is the cache's own request for a copy that
      // is still fresh: it goes on to the app, whose middleware refreshes it.
      if (
        m !== undefined &&
        m.rule.kind === 'cache' &&
        !(m.rule.refreshAhead > 0 && isInternalRequest(req))
      ) {
        const ex: Exchange = {
          method,
          path,
          rawQuery,
          headers: req.headers,
          user: undefined,
          tenant: tenantOf(m.rule, req),
        }
        const entry = engine.peek(m as RuleMatch<CompiledCacheRule>, ex)
        if (entry !== undefined) {
          const r = replay(
            entry,
            Date.now(),
            req.headers,
            method === 'HEAD',
            undefined,
            m.rule as CompiledCacheRule,
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
