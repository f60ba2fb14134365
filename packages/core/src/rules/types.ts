import type { IncomingMessage } from 'node:http'
import type { CdnRuleOptions, CompiledCdn } from '../cdn/options'
import type { Duration, Size } from '../options/units'
import type { CompiledOriginTimeout, OriginTimeoutOptions } from './origin-timeout'
import type { TagTemplate } from './template'

/**
 * A method a rule names, in upper or lower case: `GET` and `HEAD` for a cache
 * rule, `POST`, `PUT`, `PATCH` and `DELETE` for a write rule.
 */
export type RuleMethod =
  | 'GET'
  | 'HEAD'
  | 'POST'
  | 'PUT'
  | 'PATCH'
  | 'DELETE'
  | 'get'
  | 'head'
  | 'post'
  | 'put'
  | 'patch'
  | 'delete'

/** What a rule's key is made of, beside the method class and the path. */
export interface RuleKeyOptions {
  /**
   * Query parameters in the key: `'all'` (the default; order-insensitive),
   * `'none'`, or a list of names (every other parameter is ignored).
   */
  query?: 'all' | 'none' | readonly string[]
  /** Request headers in the key, by name (case-insensitive). Default: none. */
  headers?: readonly string[]
}

/**
 * What a write does when its invalidation cannot be recorded in the shared
 * tier (Redis unreachable): `'reject'` (default) answers 503 (and
 * `invalidate()` rejects); `'defer'` answers the route's response, applies the
 * invalidation in this process at once and replays it to the shared tier once
 * it answers (docs/failing-well.md, "Writes during a Redis outage").
 */
export type InvalidationFailureMode = 'reject' | 'defer'

/** What a successful (2xx) write invalidates before its response is sent. */
export interface InvalidationSpec {
  /** Tag templates, e.g. `'product:{params.id}'`. */
  tags?: readonly string[]
  /** Path patterns, e.g. `'/products/*'`. */
  patterns?: readonly string[]
  /** Invalidate every per-user entry of the user making the write. */
  user?: boolean
  /**
   * `'delete'` (default): the entries are gone. `'expire'`: they are stale
   * from the write on, still served inside their rules' stale windows
   * while one request refreshes them. Tags and `user` only, no patterns.
   */
  mode?: 'delete' | 'expire'
}

/**
 * One cache rule as the user writes it. A rule either caches (it has a `ttl`)
 * or invalidates after writes (it has `invalidates`).
 */
export interface CacheRule {
  /** Name used in metrics, logs and keys. Default: `"<METHODS> <path>"`. */
  name?: string
  /** A path-to-regexp pattern (Express syntax): `/products/:id`, `/files/*path`, `/a{/:b}`. */
  path: string
  /** Default `['GET', 'HEAD']` for cache rules, `['POST', 'PUT', 'PATCH', 'DELETE']` for write rules. */
  methods?: readonly RuleMethod[]
  /**
   * Freshness lifetime: seconds, or a duration string (`'60s'`, `'5m'`); or
   * `'origin'`: the response's own headers decide, as in an RFC 9111 shared
   * cache (`s-maxage`, `max-age`, `Expires`, heuristics), at most `maxTtl`.
   */
  ttl?: Duration | 'origin'
  /** With `ttl: 'origin'`: the longest freshness a response may claim. Default 1 day. */
  maxTtl?: Duration
  /**
   * With `ttl: 'origin'`: the targeted fields (RFC 9213) this cache obeys in
   * place of `Cache-Control` and `Expires`, the first with a valid value
   * winning. Default `['CDN-Cache-Control']`; put a field only this cache
   * reads first (`['Cachet-Cache-Control', 'CDN-Cache-Control']`); `false`:
   * `Cache-Control` alone. The fields are forwarded as the origin sent them.
   */
  targeted?: false | string | readonly string[]
  /**
   * With the options' `cdn`: `false` sends no CDN headers for this rule;
   * `{ ttl, staleWhileRevalidate, staleIfError }` gives the CDN a lifetime
   * of its own for it (see docs/cdn.md).
   */
  cdn?: CdnRuleOptions
  /**
   * After the ttl, how long the stale copy may still be served at once (`X-Cache:
   * STALE`) while one background request refreshes it (RFC 5861). Seconds or a
   * duration string. Default 0: an expired entry is a miss.
   */
  staleWhileRevalidate?: Duration
  /**
   * After the ttl, how long the stale copy may stand in for the origin when it
   * throws or answers 5xx (RFC 5861). The error is never stored. Default 0.
   */
  staleIfError?: Duration
  /**
   * Refresh ahead of expiry: a hit on a copy past this fraction of its
   * freshness (`0.8`: past 80% of the ttl) is answered from the cache and
   * starts one background refresh of the key (one in the cluster with a
   * shared tier, through its fill lock), so that a key that is read never
   * expires. Only copies that are read are refreshed. A number above 0 and
   * below 1. Default: off.
   */
  refreshAhead?: number
  /**
   * Spreads expiries: each stored copy's ttl is cut by a random part of at
   * most this fraction (`0.1`: up to 10% shorter, never longer), so that copies
   * filled together do not expire together. From 0 (the default) to below 1;
   * not with `ttl: 'origin'`, whose copies keep the freshness their headers give.
   */
  ttlJitter?: number
  /**
   * Stale-if-slow: a miss whose route has not answered within `soft` is
   * answered with the stale copy the rule keeps for errors (`staleIfError`),
   * while the route runs on and its response is stored when it ends;
   * requests waiting on the same fill get the copy too. Past `hard` without
   * a copy: the route's own answer, or a 503/504 with `hardStatus`.
   */
  originTimeout?: OriginTimeoutOptions
  /**
   * Statuses that may be stored. Default `[200]`. 5xx, 206 and 304 are never
   * stored; with `ttl: 'origin'`, `'any'` stores every status but 206 and 304
   * that has explicit freshness (or, if heuristically cacheable, a
   * heuristic one), 5xx included (RFC 9111 §3).
   */
  statuses?: readonly number[] | 'any'
  /** Largest body stored, in bytes or as `'1MiB'`. Default 1 MiB; larger bodies pass through. */
  maxBodySize?: Size
  key?: RuleKeyOptions
  /** Each user gets their own entries; the user comes from the adapter's `identify`. */
  perUser?: boolean
  /** Tag templates over `{params.x}`, `{query.x}` and `{user}` (per-user rules). */
  tags?: readonly string[]
  /**
   * The tenant a request belongs to, from the request as Node received it
   * (a verified header a gateway sets, the host's subdomain): each tenant
   * gets its own entries, which carry the implicit tag `invalidate({ tenant })`
   * drops. A request it gives no tenant for (`undefined` or `''`, or a throw)
   * bypasses the cache. Never derive it from anything a client can forge.
   */
  tenant?: (req: IncomingMessage) => string | undefined
  /**
   * Relaxation: serve and store requests that carry `Authorization` or `Cookie`
   * from the shared cache. Only for routes whose response never depends on who asks.
   */
  allowCredentials?: boolean
  /**
   * Relaxation: request headers the route may see on a miss without being in
   * the key (every other header is removed before the route runs). Only for
   * headers that never change the response: a tracing id, a user agent that is
   * only logged. Passing a forwarding header (`X-Forwarded-Proto`, …) also
   * stops it from bypassing the cache.
   */
  passHeaders?: readonly string[]
  /**
   * Cookies that never change a response (analytics, marketing), by name; a
   * trailing `*` matches a prefix (`'_ga_*'`). They are removed from the
   * request a miss's route sees, and a request whose cookies are all ignored
   * is treated as one without cookies (no `credentials` bypass). Default
   * `defaultIgnoredCookies`; `[]` ignores none; `[...defaultIgnoredCookies,
   * 'consent']` extends the list.
   */
  ignoreCookies?: readonly string[]
  /**
   * Store br and gzip encodings of compressible 200s (made once, when a copy
   * enters the memory tier) and answer each hit in the encoding its
   * `Accept-Encoding` prefers, with `Vary: Accept-Encoding`. Default false.
   */
  compress?: boolean
  /**
   * What a browser or CDN after this cache may keep: the `Cache-Control` the
   * response sends on a miss that is stored and on every answer from the
   * cache (hits, stale copies, 304s, HEAD), in place of the route's own
   * (`Cache-Control` and `Expires`). A header value (`'public, max-age=60'`)
   * or the directives as an object (`{ public: true, maxAge: '1m' }`).
   * Default: none — the route's own header goes out, as stored. A response
   * the cache stands aside for (credentials, `Set-Cookie`, an error status)
   * keeps the route's. Not for `ttl: 'origin'` rules; a per-user rule's must
   * say `private` or `no-store`.
   */
  cacheControl?: string | ClientCacheControl
  /** Write rule: what a 2xx answer invalidates. A plain array is a list of tag templates. */
  invalidates?: readonly string[] | InvalidationSpec
  /**
   * Write rule: when the shared tier cannot record the invalidation, answer
   * 503 (`'reject'`) or the route's response (`'defer'`, the invalidation is
   * replayed later). Default: the top-level `onInvalidationFailure`, `'reject'`.
   */
  onInvalidationFailure?: InvalidationFailureMode
}

/**
 * `Cache-Control` directives for the clients after the cache (`cacheControl`),
 * written in a fixed order: `public` / `private`, `no-cache`, `no-store`,
 * `max-age`, `s-maxage`, `must-revalidate`, `stale-while-revalidate`,
 * `stale-if-error`, `immutable`. Durations are seconds or duration strings,
 * in whole seconds. At least one of `maxAge`, `sMaxAge`, `noCache` or
 * `noStore`.
 */
export interface ClientCacheControl {
  /** `max-age`: how long any cache (a browser) may keep the response, counted from its `Age`. */
  maxAge?: Duration
  /** `s-maxage`: the same for shared caches (a CDN), in place of `maxAge`. Not with `private`. */
  sMaxAge?: Duration
  /** `public`: shared caches may keep it even where they otherwise would not (`Authorization`). */
  public?: boolean
  /** `private`: only the user's own browser may keep it. Required on per-user rules (or `noStore`). */
  private?: boolean
  /** `no-cache`: kept, but revalidated before every use. */
  noCache?: boolean
  /** `no-store`: kept nowhere after this cache. Alone (with `public` or `private` at most). */
  noStore?: boolean
  /** `must-revalidate`: never used stale by the client. */
  mustRevalidate?: boolean
  /** `stale-while-revalidate` (RFC 5861), for the client. */
  staleWhileRevalidate?: Duration
  /** `stale-if-error` (RFC 5861), for the client. */
  staleIfError?: Duration
  /** `immutable` (RFC 8246): not revalidated on a reload while fresh. */
  immutable?: boolean
}

export interface CompiledKeySpec {
  query: 'all' | 'none' | readonly string[]
  headers: readonly string[]
}

/** What every compiled rule has: its place, name, path and methods. */
export interface CompiledRuleBase {
  readonly index: number
  readonly name: string
  readonly path: string
  readonly methods: ReadonlySet<string>
  readonly match: (path: string) => Record<string, string> | undefined
}

export interface CompiledCacheRule extends CompiledRuleBase {
  readonly kind: 'cache'
  /** The rule's ttl; with `origin`, the cap on a response's own freshness (`maxTtl`). */
  readonly ttlMs: number
  /** `ttl: 'origin'`: each response's headers decide its freshness (RFC 9111 §4.2). */
  readonly origin: boolean
  /** Origin-driven: the targeted fields obeyed before `Cache-Control` (lower case, in order); none otherwise. */
  readonly targeted: readonly string[]
  /** Stale windows after the ttl (0 when off). */
  readonly staleWhileRevalidateMs: number
  readonly staleIfErrorMs: number
  /** `refreshAhead`: the fraction of a copy's freshness after which a hit refreshes it; 0 when off. */
  readonly refreshAhead: number
  /** `ttlJitter`: the largest fraction of the ttl a stored copy's is cut by; 0 when off. */
  readonly ttlJitter: number
  /** `originTimeout`: when the cache answers for a slow route; `undefined` when off. */
  readonly originTimeout: CompiledOriginTimeout | undefined
  /** `tenant`: the request's tenant, keyed and tagged; `undefined` when the rule has none. */
  readonly tenant: ((req: IncomingMessage) => string | undefined) | undefined
  /** ttl plus the longest stale window: how long an entry is kept. */
  readonly lifetimeMs: number
  readonly statuses: ReadonlySet<number>
  readonly maxBodySize: number
  readonly key: CompiledKeySpec
  readonly perUser: boolean
  readonly allowCredentials: boolean
  /** Hits are answered from stored br / gzip encodings (`compress`). */
  readonly compress: boolean
  /**
   * The `Cache-Control` sent to clients on stored misses and every answer
   * from the cache, in place of the route's (`cacheControl`); unset: the
   * route's own, as stored.
   */
  readonly cacheControl?: string
  /** The CDN headers its stored responses carry (`cdn`); none: no CDN, a per-user rule or `cdn: false`. */
  readonly cdn: CompiledCdn | undefined
  /** Request headers passed to the route unkeyed (lower case). */
  readonly passHeaders: readonly string[]
  /** Every request header a fill's route sees: transport, keyed, passed, and credentials where allowed. */
  readonly viewHeaders: ReadonlySet<string>
  /** Forwarding headers keyed because the proxy is trusted (`proxy.trusted`), lower case, sorted. */
  readonly proxyKey: readonly string[]
  /** Whether a cookie of this name is ignored (`ignoreCookies`). */
  readonly ignoresCookie: (name: string) => boolean
  readonly tags: readonly TagTemplate[]
  /** Implicit tag carried by every entry of this rule (pattern invalidation). */
  readonly routeTag: string
}

export interface CompiledWriteRule extends CompiledRuleBase {
  readonly kind: 'invalidate'
  readonly invalidates: {
    readonly tags: readonly TagTemplate[]
    readonly patterns: readonly string[]
    readonly user: boolean
    /** The request's own path (RFC 9111 §4.4: an unsafe method invalidates its target URI). */
    readonly target?: boolean
    /** `mode: 'expire'`. */
    readonly expire?: boolean
  }
  /** Unset: the top-level option's. */
  readonly onInvalidationFailure?: InvalidationFailureMode
}

export type CompiledRule = CompiledCacheRule | CompiledWriteRule

export interface RuleMatch<R extends CompiledRule = CompiledRule> {
  readonly rule: R
  readonly params: Record<string, string>
}
