import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import {
  bypassOutcome,
  CacheEngine,
  type CacheHandle,
  type CacheOptions,
  type CacheRule,
  type CompiledCacheRule,
  type CompiledWriteRule,
  conditionalsOf,
  type Exchange,
  type Fill,
  isInternalRequest,
  type Lookup,
  narrowRequest,
  ONLY_IF_CACHED_UNAVAILABLE,
  observeMiss,
  type RequestCache,
  type RuleMatch,
  refreshInBackground,
  replay,
  routeConditionals,
  ruleNeedsUser,
  serverListener,
  splitAdapterOptions,
  splitUrl,
  userIdOf,
  withHandle,
  withQuery,
} from '@cachet/core'
import { captureResponse } from './capture'
import { holdUntilInvalidated } from './hold'

type Next = (err?: unknown) => void
type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

/** The verified user of a request, for per-user rules; `undefined` when anonymous. */
export type Identify = (req: IncomingMessage) => string | undefined

export interface ExpressCacheOptions extends CacheOptions {
  /**
   * Returns the app's verified user id. Default: `req.user` when it is a
   * string, or `req.user.id`. Never derive it from a raw header.
   */
  identify?: Identify
}

export interface ExpressCacheMiddleware extends CacheHandle {
  (req: IncomingMessage, res: ServerResponse, next: Next): void
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by cachet on every request that passes its middleware. */
    cache?: RequestCache
  }
}

export function defaultIdentify(req: IncomingMessage): string | undefined {
  return userIdOf((req as { user?: unknown }).user)
}

/**
 * Gives the route of a fill only what the key holds: the headers the rule
 * keys or passes, and the keyed query parameters (in `req.url`,
 * `req.originalUrl` and, on Express 4, which parsed it already, `req.query`).
 */
function narrowView(fill: Fill, req: IncomingMessage): void {
  const r = req as IncomingMessage & {
    originalUrl?: string
    query?: unknown
    app?: { get(setting: string): unknown }
  }
  const url = r.originalUrl ?? r.url ?? '/'
  const query = narrowRequest(fill.rule, splitUrl(url).rawQuery, req.headers, req.rawHeaders)
  if (query === undefined) return
  r.url = withQuery(r.url ?? '/', query)
  if (r.originalUrl !== undefined) r.originalUrl = withQuery(r.originalUrl, query)
  // Express 5 parses req.query from req.url on every read; Express 4 kept what it parsed.
  const own = Object.getOwnPropertyDescriptor(r, 'query')
  if (own?.writable) {
    const parse = r.app?.get('query parser fn')
    r.query = typeof parse === 'function' ? parse(query) : {}
  }
}

/**
 * `app.use(cacheMiddleware(rules))`: answers hits without running the route,
 * records misses as they stream to the client, and holds a write's 2xx until
 * the write rule's invalidation is done. Requests no rule matches cost a
 * URL split and a map lookup.
 */
export function cacheMiddleware(
  input: readonly CacheRule[] | ExpressCacheOptions,
): ExpressCacheMiddleware {
  const [options, identify] = splitAdapterOptions(input, defaultIdentify)
  const engine = new CacheEngine(options)
  const requestCache: RequestCache = { invalidate: (target) => engine.invalidate(target) }
  /** The app, as the first request saw it: what `cache.warm()` sends its requests through. */
  let appListener: RequestListener | undefined
  /** The server's listener for `req`, else the Express app (`req.app`). */
  const listenerOf = (req: IncomingMessage): RequestListener | undefined =>
    serverListener(req) ?? (req as { app?: RequestListener }).app

  const write = (res: ServerResponse, r: ReturnType<typeof replay>) => {
    res.writeHead(r.status, r.headers)
    res.end(r.body)
  }

  /** Lets the route answer a miss while the response is recorded into `fill`. */
  const forward = (fill: Fill, req: IncomingMessage, res: ServerResponse, next: Next) => {
    fill.setOuterHeaders(res.getHeaders())
    captureResponse(res, fill, conditionalsOf(req.headers))
    narrowView(fill, req)
    routeConditionals(fill, req.headers)
    // A HEAD miss fills the GET entry (Node sends no body for HEAD anyway).
    if (req.method === 'HEAD' && fill.rule.methods.has('GET')) req.method = 'GET'
    next()
  }

  const respond = (
    lookup: Lookup,
    rule: CompiledCacheRule,
    req: IncomingMessage,
    res: ServerResponse,
    next: Next,
    started: number,
  ) => {
    if (lookup.type === 'hit' || lookup.type === 'stale') {
      const stale = lookup.type === 'stale' ? { reason: lookup.reason } : undefined
      const head = req.method === 'HEAD'
      write(res, replay(lookup.entry, Date.now(), req.headers, head, stale, rule.cacheControl))
      engine.observe(rule, 'hit', (performance.now() - started) / 1000)
      if (lookup.type === 'stale' && lookup.refresh !== undefined) {
        const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/'
        refreshInBackground(engine, lookup.refresh, rule.name, listenerOf(req), req, url)
      }
      return
    }
    if (lookup.type === 'bypass') {
      const [outcome, status] = bypassOutcome(lookup.reason)
      res.setHeader('x-cache', outcome)
      res.setHeader('cache-status', status)
      next()
      return
    }
    if (lookup.type === 'unavailable') {
      const u = ONLY_IF_CACHED_UNAVAILABLE
      write(res, { status: u.status, headers: [...u.headers], body: Buffer.from(u.body) })
      return
    }
    observeMiss(engine, rule, res, started)
    forward(lookup.fill, req, res, next)
  }

  /** The background refresh of a stale entry: fill it, or answer 204 when there is nothing to do. */
  const refresh = (
    fill: Fill | undefined,
    req: IncomingMessage,
    res: ServerResponse,
    next: Next,
  ) => {
    if (fill !== undefined) return forward(fill, req, res, next)
    res.statusCode = 204
    res.end()
  }

  const middleware = function cachetMiddleware(
    req: IncomingMessage,
    res: ServerResponse,
    next: Next,
  ): void {
    req.cache = requestCache
    if (appListener === undefined) appListener = listenerOf(req)
    const method = req.method ?? 'GET'
    const { path, rawQuery } = splitUrl(
      (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/',
    )
    const m = engine.match(method, path)
    if (m === undefined) {
      next()
      return
    }
    const ex: Exchange = {
      method,
      path,
      rawQuery,
      headers: req.headers,
      user: ruleNeedsUser(m.rule) ? identify(req) : undefined,
    }
    if (m.rule.kind === 'invalidate') {
      const write = m as RuleMatch<CompiledWriteRule>
      holdUntilInvalidated(res, (response) => engine.invalidateAfterWrite(write, ex, response))
      next()
      return
    }
    const cacheMatch = m as RuleMatch<CompiledCacheRule>
    if (isInternalRequest(req)) {
      const fill = engine.revalidate(cacheMatch, ex)
      if (fill instanceof Promise) fill.then((f) => refresh(f, req, res, next), next)
      else refresh(fill, req, res, next)
      return
    }
    const started = performance.now()
    const lookup = engine.lookup(cacheMatch, ex)
    if (lookup instanceof Promise) {
      lookup.then((l) => respond(l, cacheMatch.rule, req, res, next, started), next)
    } else {
      respond(lookup, cacheMatch.rule, req, res, next, started)
    }
  }

  return withHandle(middleware, engine, () => appListener)
}
