import { EventEmitter } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import { debuglog } from 'node:util'
import { type CacheEntry, entrySize } from '../entry/entry'
import { encodeVariants } from '../http/encoding'
import type { ResponseBypassReason } from '../http/storable'
import { LocalInvalidationState } from '../invalidation/local-state'
import {
  type InvalidationTarget,
  type NormalizedTarget,
  normalizeTarget,
  userTag,
} from '../invalidation/target'
import { buildKey, parseQuery } from '../rules/key'
import { onlyIfCached, requestBypassReason } from '../rules/request-filter'
import { RuleSet } from '../rules/rule-set'
import type { TemplateVars } from '../rules/template'
import type { CompiledCacheRule, CompiledWriteRule, RuleMatch } from '../rules/types'
import { MemoryTier } from '../tiers/memory-tier'
import type { StoredResponse } from '../tiers/remote-tier'
import { SharedTopUrls, topUrlStore } from '../warm/shared-top'
import { type TopUrl, TopUrls } from '../warm/top-urls'
import type {
  CacheEvents,
  CacheStats,
  Explanation,
  InvalidationRecord,
  TierOperation,
} from './events'
import { type Exchange, splitUrl } from './exchange'
import { Fill, type FillSink } from './fill'
import { Flight } from './flight'
import { type InvalidationCounts, RuleMetrics } from './metrics'
import { type InvalidationFailureMode, resolveOptions } from './options'
import { PassMarkers } from './pass-markers'
import { RemotePath } from './remote-path'
import { storedWindows } from './stale-windows'
import type { BypassReason } from './status-headers'
import { type ReadyStatus, TierLog } from './tier-log'
import {
  indexNames,
  primaryKeyOf,
  VARIANT_INDEX_STATUS,
  variantIndex,
  variantKey,
  varyNames,
} from './variants'

const debug = debuglog('cachet')

/** Longest time a "don't wait, don't capture" marker lasts after an unstorable response. */
export const MARKER_MAX_MS = 120_000

/** After a background refresh that stored nothing, how long before another may start. */
export const REVALIDATE_RETRY_MS = 1000

const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** RFC 9110 §9.2.1: every other method, known or not, is unsafe (RFC 9111 §4.4). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/**
 * The fields of a write's response that name other URIs it changed (RFC 9111
 * §4.4): origin-driven rules invalidate those too.
 */
export interface WriteResponse {
  readonly location?: string
  readonly 'content-location'?: string
}

/**
 * The path a write's `Location` or `Content-Location` names, when it is on
 * the request's own host (RFC 9111 §4.4: never another host's); relative
 * references are resolved against the request's path.
 */
export function sameHostPath(value: string | undefined, ex: Exchange): string | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const host = typeof ex.headers.host === 'string' ? ex.headers.host : 'localhost'
  let base: URL
  let url: URL
  try {
    base = new URL(`http://${host}${ex.path}`)
    url = new URL(value.trim(), base)
  } catch {
    return undefined
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host !== base.host)
    return undefined
  return url.pathname
}

/** A path as a pattern that matches only itself (path-to-regexp 8 escapes with `\\`). */
export function literalPattern(path: string): string {
  return path.replace(/[{}()[\]+?!:*\\]/g, '\\$&')
}

export type Lookup =
  | { readonly type: 'hit'; readonly entry: CacheEntry }
  /**
   * A copy past its ttl, served inside a stale window: `revalidate` (the
   * `staleWhileRevalidate` window; when `refresh` is true this request must
   * start the one background refresh) or `error` (`staleIfError`: the origin
   * call this request waited on failed).
   */
  | {
      readonly type: 'stale'
      readonly entry: CacheEntry
      readonly reason: 'revalidate' | 'error'
      /** Set on the one request that must start the background refresh (see `refreshSettled`). */
      readonly refresh: RefreshClaim | undefined
    }
  | { readonly type: 'bypass'; readonly reason: BypassReason }
  /**
   * The client sent `Cache-Control: only-if-cached` and no tier holds a copy
   * that may be sent: answer 504 without going to the origin (RFC 9111 §5.2.1.7).
   */
  | { readonly type: 'unavailable' }
  /** Go to the origin; `fill.stale` is the copy to serve if it fails. */
  | { readonly type: 'miss'; readonly fill: Fill }

/** A background refresh under way for a key, until its fill reports (or `until`). */
export interface RefreshClaim {
  readonly key: string
  readonly until: number
}

/** Keys whose last storage decision `explain()` remembers; the oldest are forgotten first. */
const DECISIONS_KEPT = 1000

/** Invalidations kept for `recentInvalidations()`. */
const RECENT_INVALIDATIONS = 50

/** What `explain()` takes: a request as the app would receive it. */
export interface ExplainRequest {
  method?: string
  url: string
  headers?: IncomingHttpHeaders
  /** The verified user id, for per-user rules. */
  user?: string
}

/** The path pattern `purge()` records: it matches every path. */
export const PURGE_ALL_PATTERN = '/{*all}'

/** Keys whose background refresh is tracked at once; the oldest are forgotten first. */
const MAX_REVALIDATIONS = 10_000

/**
 * The orchestrator: it matches a request to a rule, looks it up in the memory
 * tier and then the shared tier, coalesces concurrent misses, stores what a
 * fill captured when its fence still holds, and applies invalidations.
 * Framework-free; the adapters translate.
 */
export class CacheEngine extends EventEmitter<CacheEvents> implements FillSink {
  readonly rules: RuleSet
  /** Whether some cache rule is origin-driven (unsafe methods then invalidate their target). */
  readonly #hasOriginRules: boolean
  /** The implicit write rule of each origin-driven rule (see `#targetMatch`). */
  readonly #targetRules = new Map<CompiledCacheRule, CompiledWriteRule>()
  /** The memory tier; `undefined` when turned off (`store.l1: false`). */
  readonly l1: MemoryTier | undefined
  readonly #state: LocalInvalidationState
  readonly #remote: RemotePath | undefined
  /** The shared tier's health as log lines (option `logger`), and what `ready` says. */
  readonly #tierLog: TierLog | undefined
  readonly #flights = new Map<string, Flight>()
  readonly #markers = new PassMarkers()
  readonly #namespace: string
  /** What an invalidation the shared tier cannot record does, unless its write rule says. */
  readonly #onInvalidationFailure: InvalidationFailureMode
  readonly #maxWaiters: number
  readonly #maxWaitMs: number
  /** Age after which a flight is taken for abandoned. */
  readonly #abandonFlightMs: number
  /** Cap on a memory entry's lifetime (set when the shared tier has no bus). */
  readonly #l1MaxTtlMs: number
  /** Keys with a background refresh under way (or recently failed): when another may start. */
  readonly #revalidations = new Map<string, RefreshClaim>()
  /** The most requested URLs (`warm.track`), and their copy in the shared tier. */
  readonly #top: TopUrls | undefined
  readonly #sharedTop: SharedTopUrls | undefined
  /** Shared-tier writes of completed fills, until their entry is stored (see `settled`). */
  readonly #writes = new Set<Promise<void>>()
  /** Counters per rule, by the rule's index. */
  readonly metrics: readonly RuleMetrics[]
  readonly invalidations: InvalidationCounts = {
    done: 0,
    failed: 0,
    deferred: 0,
    tags: 0,
    patterns: 0,
    users: 0,
  }
  readonly #recent: InvalidationRecord[] = []
  /** The last storage decision per key, for `explain()`. */
  readonly #decisions = new Map<string, { at: number; stored: boolean; reason?: string }>()
  readonly #counters = {
    errors: { read: 0, write: 0, abandon: 0, invalidate: 0 } as Record<TierOperation, number>,
    timeouts: 0,
    stale: { revalidate: 0, error: 0 },
    revalidations: { started: 0, stored: 0, notStored: 0, skipped: 0 },
  }

  constructor(options: unknown) {
    super()
    const resolved = resolveOptions(options)
    this.rules = new RuleSet(resolved.rules, resolved.defaults, resolved.proxy)
    this.#hasOriginRules = this.rules.rules.some((r) => r.kind === 'cache' && r.origin)
    this.metrics = this.rules.rules.map((r) => new RuleMetrics(r.name))
    const l2 = resolved.l2
    // Before anything else of the tier's: it may refuse the namespace.
    l2?.attach?.({ namespace: resolved.namespace, explicit: resolved.namespaceGiven })
    // With a shared tier that has no bus, memory entries are kept only for an
    // explicit `store.l1.maxTtl`: nothing else would bound their staleness.
    const l1Off =
      resolved.l1 === false || (l2 !== undefined && !l2.coherent && resolved.l1MaxTtlMs === 0)
    this.l1 = l1Off || resolved.l1 === false ? undefined : new MemoryTier(resolved.l1)
    this.#namespace = resolved.namespace
    this.#onInvalidationFailure = resolved.onInvalidationFailure
    this.#maxWaiters = resolved.maxWaiters
    this.#maxWaitMs = resolved.maxWaitMs
    this.#abandonFlightMs = Math.max(4 * resolved.maxWaitMs, 60_000)
    let maxLifetime = 0
    for (const r of this.rules.rules)
      if (r.kind === 'cache') maxLifetime = Math.max(maxLifetime, r.lifetimeMs)
    this.#state = new LocalInvalidationState(this.rules, maxLifetime)
    this.#l1MaxTtlMs =
      l2 === undefined || l2.coherent ? Number.POSITIVE_INFINITY : resolved.l1MaxTtlMs
    this.#tierLog = l2 === undefined ? undefined : new TierLog(resolved.logger, l2)
    this.#remote =
      l2 === undefined
        ? undefined
        : new RemotePath(
            l2,
            {
              maxWaitMs: this.#maxWaitMs,
              breaker: resolved.breaker,
              purgeAll: this.#state.plan(normalizeTarget({ pattern: PURGE_ALL_PATTERN })),
            },
            {
              onInvalidate: (plan) => this.#state.apply(plan, Date.now()),
              onResync: () => {
                this.#state.resync()
                this.l1?.clear()
                debug('resync: the memory tier was dropped')
              },
              onConnection: (up, cause) => this.#tierLog?.connection(up, cause),
            },
            {
              error: (operation, error) => {
                this.#counters.errors[operation]++
                if (error.name === 'DeadlineError') this.#counters.timeouts++
                this.#tierLog?.failed(error)
                this.emit('tier:error', { tier: l2.name, operation, error })
              },
              breaker: (state, previous, failures) => {
                debug('%s breaker %s -> %s after %d failures', l2.name, previous, state, failures)
                this.emit('breaker', { tier: l2.name, state, previous, failures })
                this.#tierLog?.breaker(state, failures)
              },
            },
          )
    const track = resolved.warm.track
    this.#top =
      track === 0
        ? undefined
        : new TopUrls(
            this.rules.rules.filter((r): r is CompiledCacheRule => r.kind === 'cache'),
            this.rules.rules.length,
            track,
          )
    const store = topUrlStore(l2)
    this.#sharedTop =
      this.#top === undefined || store === undefined
        ? undefined
        : new SharedTopUrls(this.#top, store, (url, n) => this.#seedTop(url, n), resolved.warm)
  }

  /**
   * Connects the shared tier's bus; resolves once this process takes part in
   * invalidations (and, with `warm.track`, once the shared top URLs are read
   * back), or once it gave up waiting (2 s): with what happened (see
   * `ReadyStatus`). Never rejects for an unreachable tier.
   */
  async start(): Promise<ReadyStatus> {
    const started = Date.now()
    await this.#remote?.start()
    await this.#sharedTop?.start()
    if (this.#remote === undefined || this.#tierLog === undefined) return { shared: 'none' }
    const tier = this.#remote.tier
    return this.#tierLog.status(!tier.coherent || tier.trusted(), Date.now() - started)
  }

  match(method: string, path: string): RuleMatch | undefined {
    const m = this.rules.match(method, path)
    if (m !== undefined || !this.#hasOriginRules || SAFE_METHODS.has(method)) return m
    return this.#targetMatch(path)
  }

  /**
   * RFC 9111 §4.4: an unsafe request (any method but GET, HEAD, OPTIONS and
   * TRACE, RFC 9110 §9.2.1; no write rule of its own) to a path an
   * origin-driven rule caches invalidates that path's entries, as a write rule
   * would: on a 2xx, on every process, before the response is sent.
   */
  #targetMatch(path: string): RuleMatch<CompiledWriteRule> | undefined {
    const g = this.rules.match('GET', path)
    if (g === undefined || g.rule.kind !== 'cache' || !g.rule.origin) return undefined
    let write = this.#targetRules.get(g.rule)
    if (write === undefined) {
      write = {
        kind: 'invalidate',
        index: g.rule.index,
        name: `${g.rule.name} (target of unsafe methods)`,
        path: g.rule.path,
        methods: UNSAFE_METHODS,
        match: g.rule.match,
        invalidates: { tags: [], patterns: [], user: false, target: true },
      }
      this.#targetRules.set(g.rule, write)
    }
    return { rule: write, params: g.params }
  }

  /** Whether the memory tier may serve and store now (the bus is healthy, or there is no shared tier). */
  #l1Usable(): boolean {
    return this.l1 !== undefined && (this.#remote === undefined || this.#remote.tier.trusted())
  }

  /**
   * A usable memory entry for `key`: fresh, or past its ttl inside one of
   * the rule's stale windows (no allocation: this is the hit path). An
   * invalid or unusable one is dropped.
   */
  #memoryFind(rule: CompiledCacheRule, key: string, now: number): CacheEntry | undefined {
    if (this.l1 === undefined) return undefined
    const entry = this.l1.get(key, now)
    if (entry === undefined) return undefined
    if (
      this.#state.isValid(entry) &&
      this.#l1Usable() &&
      // An origin-driven copy is kept exactly as long as its own windows (deleteAt).
      (now < entry.staleAt || rule.origin || now - entry.staleAt < rule.lifetimeMs - rule.ttlMs)
    )
      return entry
    this.l1.delete(key)
    return undefined
  }

  /**
   * The key of the variant `ex` selects when the memory tier holds a variant
   * index at `key` (see variants.ts); otherwise `key`.
   */
  #variantOf(rule: CompiledCacheRule, key: string, ex: Exchange, now: number): string {
    if (!rule.origin) return key
    const index = this.#memoryFind(rule, key, now)
    return index !== undefined && index.status === VARIANT_INDEX_STATUS
      ? variantKey(key, indexNames(index), ex.headers)
      : key
  }

  /**
   * Whether `entry`, which a flight brought, is the one a request for `key`
   * selects: the same key, or, when the request knew only its URI's key, the
   * variant its own headers select by the entry's `Vary`.
   */
  #selects(rule: CompiledCacheRule, entry: CacheEntry, key: string, ex: Exchange): boolean {
    if (entry.key === key) return true
    if (!rule.origin || primaryKeyOf(entry.key) !== key) return false
    const values: string[] = []
    for (let i = 0; i < entry.headers.length; i += 2)
      if (entry.headers[i] === 'vary') values.push(entry.headers[i + 1] as string)
    const names = varyNames(rule, values)
    return names !== '*' && variantKey(key, names, ex.headers) === entry.key
  }

  /**
   * A memory hit for a request, or nothing — never a fill, never a wait. For
   * answering hits before the framework runs (`cache.edge()`); per-user rules
   * are left to the middleware, which knows the verified user.
   */
  peek(m: RuleMatch<CompiledCacheRule>, ex: Exchange): CacheEntry | undefined {
    if (
      m.rule.perUser ||
      requestBypassReason(m.rule, ex.headers, undefined, ex.rawQuery) !== undefined
    )
      return undefined
    const now = Date.now()
    const key = this.#variantOf(m.rule, buildKey(this.#namespace, m.rule, ex), ex, now)
    const entry = this.#memoryFind(m.rule, key, now)
    if (entry === undefined || now >= entry.staleAt) return undefined
    this.#top?.record(m.rule, key, ex.path, ex.rawQuery, false)
    this.#hit(m.rule, entry, 'memory')
    return entry
  }

  /** Hit, stale, bypass or miss; synchronous on a memory hit and when there is no shared tier. */
  lookup(m: RuleMatch<CompiledCacheRule>, ex: Exchange): Lookup | Promise<Lookup> {
    const rule = m.rule
    const reason = requestBypassReason(rule, ex.headers, ex.user, ex.rawQuery)
    if (reason !== undefined) {
      debug('bypass %s %s: %s', rule.name, ex.path, reason)
      return this.#bypass(rule, reason)
    }
    let key = buildKey(this.#namespace, rule, ex)
    const now = Date.now()
    let entry = this.#memoryFind(rule, key, now)
    if (entry !== undefined && entry.status === VARIANT_INDEX_STATUS) {
      // Origin-driven: the URI's responses vary; read the variant this request selects.
      key = variantKey(key, indexNames(entry), ex.headers)
      entry = this.#memoryFind(rule, key, now)
    }
    // Counted on every lookup; a key enters the list only on a memory miss.
    this.#top?.record(rule, key, ex.path, ex.rawQuery, entry === undefined)
    if (entry !== undefined) {
      if (now < entry.staleAt) return this.#hit(rule, entry, 'memory')
      if (now - entry.staleAt < storedWindows(rule, entry.headers).swrMs)
        return this.#staleRevalidate(rule, key, entry, now)
    }
    if (onlyIfCached(ex.headers)) return this.#onlyIfCached(m, ex, key)
    // Past the ttl and stale-while-revalidate: what is left is the
    // stale-if-error copy, for when the origin fails, and, origin-driven, the
    // copy a conditional request revalidates.
    const fallback =
      entry !== undefined && now - entry.staleAt < storedWindows(rule, entry.headers).sieMs
        ? entry
        : undefined
    const base = rule.origin ? entry : undefined
    const marker = this.#markers.get(key, now)
    if (marker?.pass) return this.#bypass(rule, marker.reason)
    let flight = marker === undefined ? this.#flights.get(key) : undefined
    if (flight !== undefined && now - flight.startedAt > this.#abandonFlightMs) {
      // A leader that never finished (an adapter that lost track of its fill):
      // nobody may wait on it any more. A legitimately slow origin is given
      // much longer than one wait, so that it keeps its followers.
      this.#flights.delete(key)
      flight.settle(undefined)
      flight = undefined
    }
    if (flight !== undefined && flight.waiters < this.#maxWaiters) {
      return this.#wait(flight, m, ex, key, fallback)
    }
    const lead = flight === undefined && marker === undefined ? new Flight() : undefined
    if (lead !== undefined) this.#flights.set(key, lead)
    const tags = this.#tagsFor(m, ex)
    if (this.#remote !== undefined)
      return this.#lookupRemote(m, ex, key, tags, {
        flight: lead,
        fallback,
        base,
      }) as Promise<Lookup>
    return { type: 'miss', fill: this.#fill(m, ex, key, tags, lead, fallback, false, base) }
  }

  /**
   * `only-if-cached` without a usable memory copy: the shared tier is read
   * once (no fill lock, no wait for another process's fill); nothing there
   * means 504. Counted as a bypass (`only-if-cached`): the origin is not asked.
   */
  #onlyIfCached(
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
    key: string,
  ): Lookup | Promise<Lookup> {
    const unavailable = (): Lookup => {
      this.#bypass(m.rule, 'only-if-cached')
      return { type: 'unavailable' }
    }
    const remote = this.#remote
    if (remote === undefined) return unavailable()
    const tags = this.#tagsFor(m, ex)
    const fence = this.#state.fence(tags)
    const read = (k: string): Promise<Lookup> =>
      remote.peek(k, tags, ex.path, m.rule).then((found) => {
        if (found === undefined) return unavailable()
        if (found.kind === 'index') {
          this.#storeLocal(this.#toEntry(k, found.response, fence), fence, m.rule)
          return read(variantKey(k, indexNames(found.response), ex.headers))
        }
        const entry = this.#toEntry(k, found.response, fence)
        this.#storeLocal(entry, fence, m.rule)
        if (found.kind === 'hit') return this.#hit(m.rule, entry, 'shared')
        return this.#staleRevalidate(m.rule, k, entry, Date.now())
      })
    return read(key)
  }

  /** A stale-while-revalidate answer; the first one in a while also starts the refresh. */
  #staleRevalidate(rule: CompiledCacheRule, key: string, entry: CacheEntry, now: number): Lookup {
    const refresh = this.#claimRevalidation(key, now)
    if (refresh !== undefined) this.#counters.revalidations.started++
    this.#servedStale(rule, 'revalidate', entry, now)
    return { type: 'stale', entry, reason: 'revalidate', refresh }
  }

  #hit(rule: CompiledCacheRule, entry: CacheEntry, tier: 'memory' | 'shared'): Lookup {
    const m = this.metrics[rule.index] as RuleMetrics
    if (tier === 'memory') m.hitsMemory++
    else m.hitsShared++
    if (this.listenerCount('hit') > 0) this.emit('hit', { rule: rule.name, tier })
    return { type: 'hit', entry }
  }

  #bypass(rule: CompiledCacheRule, reason: BypassReason): Lookup {
    ;(this.metrics[rule.index] as RuleMetrics).bypass(reason)
    if (this.listenerCount('bypass') > 0)
      this.emit('bypass', { rule: rule.name, reason, side: 'request' })
    return { type: 'bypass', reason }
  }

  #servedStale(
    rule: CompiledCacheRule,
    reason: 'revalidate' | 'error',
    entry: CacheEntry,
    now: number,
  ): void {
    this.#counters.stale[reason]++
    const m = this.metrics[rule.index] as RuleMetrics
    if (reason === 'revalidate') m.staleRevalidate++
    else m.staleError++
    if (this.listenerCount('stale') > 0)
      this.emit('stale', { rule: rule.name, reason, staleMs: now - entry.staleAt })
  }

  /** A claim on the refresh of `key` when none is under way (or recently failed). */
  #claimRevalidation(key: string, now: number): RefreshClaim | undefined {
    const current = this.#revalidations.get(key)
    if (current !== undefined && now < current.until) return undefined
    // Under way until its fill completes; a refresh that never reports back
    // (a request the app never answered) is given up after the longest wait.
    const claim = { key, until: now + this.#abandonFlightMs }
    this.#revalidations.delete(key)
    this.#revalidations.set(key, claim)
    if (this.#revalidations.size > MAX_REVALIDATIONS) {
      const oldest = this.#revalidations.keys().next().value
      if (oldest !== undefined) this.#revalidations.delete(oldest)
    }
    return claim
  }

  #endRevalidation(key: string, outcome: 'stored' | 'not-stored' | 'skipped', rule: string): void {
    if (outcome === 'not-stored')
      this.#revalidations.set(key, { key, until: Date.now() + REVALIDATE_RETRY_MS })
    else this.#revalidations.delete(key)
    const c = this.#counters.revalidations
    if (outcome === 'stored') c.stored++
    else if (outcome === 'not-stored') c.notStored++
    else c.skipped++
    if (this.listenerCount('revalidate') > 0) this.emit('revalidate', { rule, outcome })
  }

  /**
   * The adapter's internal request for `claim` has ended. When it never
   * reached the cache (the app answered it before the cache middleware: an
   * auth check, a 404), the refresh is over without a fill: another may start
   * after `REVALIDATE_RETRY_MS`.
   */
  refreshSettled(claim: RefreshClaim, rule: string): void {
    if (this.#revalidations.get(claim.key) === claim)
      this.#endRevalidation(claim.key, 'not-stored', rule)
  }

  /** How long an internal refresh request may run before it is cut. */
  get refreshTimeoutMs(): number {
    return this.#abandonFlightMs
  }

  /**
   * The background refresh of a stale entry, run by the adapter as an
   * internal request through the app: a fill that stores the origin's new
   * response, or `undefined` when there is nothing to do (another request of
   * this process is already at the origin, another process holds the fill
   * lock, or the shared tier already has a fresh copy, now promoted).
   */
  revalidate(
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
  ): Fill | undefined | Promise<Fill | undefined> {
    const rule = m.rule
    const key = this.#variantOf(rule, buildKey(this.#namespace, rule, ex), ex, Date.now())
    if (
      requestBypassReason(rule, ex.headers, ex.user, ex.rawQuery) !== undefined ||
      this.#flights.has(key)
    ) {
      this.#endRevalidation(key, 'skipped', rule.name)
      return undefined
    }
    const lead = new Flight()
    this.#flights.set(key, lead)
    const tags = this.#tagsFor(m, ex)
    // Origin-driven: the refresh is a conditional request on the stale copy.
    const base = rule.origin ? this.#memoryFind(rule, key, Date.now()) : undefined
    if (this.#remote === undefined) {
      this.#refreshFilling(key)
      return this.#fill(m, ex, key, tags, lead, undefined, true, base)
    }
    return this.#lookupRemote(m, ex, key, tags, { flight: lead, revalidate: true, base }).then(
      (found) => {
        if (found !== 'busy' && found.type === 'miss') {
          this.#refreshFilling(key)
          return found.fill
        }
        this.#endRevalidation(key, 'skipped', rule.name)
        return undefined
      },
    )
  }

  /**
   * The refresh of `key` is now its fill's to end (its completion may come
   * after the internal request has finished, once the shared tier's write
   * answers): the adapter's claim no longer matches, so its `refreshSettled`
   * does not end it too.
   */
  #refreshFilling(key: string): void {
    this.#revalidations.set(key, { key, until: Date.now() + this.#abandonFlightMs })
  }

  async #lookupRemote(
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
    key: string,
    tags: string[],
    options: {
      flight: Flight | undefined
      fallback?: CacheEntry
      base?: CacheEntry
      revalidate?: boolean
      /** The key of the flight led, when `key` is a variant's found in the shared tier's index. */
      flightKey?: string
    },
  ): Promise<Lookup | 'busy'> {
    const remote = this.#remote as RemotePath
    const { flight, revalidate = false } = options
    // Captured before the remote read: a bus message that arrives meanwhile
    // makes the promoted copy fail this fence.
    const fence = this.#state.fence(tags)
    const found = await remote.lookup(key, tags, ex.path, {
      lock: flight !== undefined,
      rule: m.rule,
      revalidate,
    })
    if (found.kind === 'index') {
      // The URI's responses vary: keep the index in memory, then look up the
      // variant this request selects (its own fill lock, its own copy).
      this.#storeLocal(this.#toEntry(key, found.response, fence), fence, m.rule)
      const variant = variantKey(key, indexNames(found.response), ex.headers)
      return this.#lookupRemote(m, ex, variant, tags, { ...options, flightKey: key })
    }
    if (found.kind === 'hit' || found.kind === 'stale') {
      const entry = this.#toEntry(key, found.response, fence)
      this.#storeLocal(entry, fence, m.rule)
      if (flight !== undefined) this.#settle(options.flightKey ?? key, flight, entry)
      if (found.kind === 'hit') return this.#hit(m.rule, entry, 'shared')
      return this.#staleRevalidate(m.rule, key, entry, Date.now())
    }
    if (found.kind === 'bypass' || found.busy === true) {
      if (flight !== undefined) this.#settle(options.flightKey ?? key, flight, undefined)
      return found.kind === 'bypass' ? this.#bypass(m.rule, found.reason) : 'busy'
    }
    // A background refresh answers nobody: it has no stale copy to stand in
    // for a failure (as without a shared tier), so a failed refresh is not
    // counted as a stale answer.
    const stale = revalidate
      ? undefined
      : found.stale !== undefined
        ? this.#toEntry(key, found.stale, fence)
        : options.fallback
    const base =
      found.base !== undefined
        ? found.base === found.stale && stale !== undefined
          ? stale
          : this.#toEntry(key, found.base, fence)
        : options.base
    return {
      type: 'miss',
      fill: new Fill(this, {
        rule: m.rule,
        key,
        path: ex.path,
        fence,
        flight,
        remote: found.fence,
        stale,
        base,
        revalidation: revalidate,
        flightKey: options.flightKey,
        request: m.rule.origin ? { ...ex.headers } : undefined,
      }),
    }
  }

  async #wait(
    flight: Flight,
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
    key: string,
    fallback: CacheEntry | undefined,
  ): Promise<Lookup> {
    const asked = Date.now()
    const entry = await flight.wait(this.#maxWaitMs)
    const now = Date.now()
    if (entry !== undefined && this.#state.isValid(entry)) {
      if (!this.#selects(m.rule, entry, key, ex)) {
        // Another variant of the URI came (its responses vary, which was not
        // known yet): look up again, now by the index, and wait on (or lead)
        // the flight of this request's own variant.
        if (primaryKeyOf(entry.key) === key) return this.lookup(m, ex)
      } else {
        // Fresh, or (a copy to revalidate on every use) generated or
        // validated by the origin after this request came: as good as asking.
        if (now < entry.staleAt || entry.cachedAt >= asked)
          return this.#hit(m.rule, entry, 'memory')
        if (now - entry.staleAt < storedWindows(m.rule, entry.headers).swrMs)
          return this.#staleRevalidate(m.rule, key, entry, now)
      }
    }
    if (flight.failed && fallback !== undefined && this.#state.isValid(fallback)) {
      // The origin call this request waited on failed: the stale-if-error copy
      // stands in, without another origin call.
      this.#servedStale(m.rule, 'error', fallback, now)
      return { type: 'stale', entry: fallback, reason: 'error', refresh: undefined }
    }
    // Nothing storable came (or the wait ran out): this request goes to the
    // origin itself, without leading a flight of its own.
    const tags = this.#tagsFor(m, ex)
    if (this.#remote !== undefined) {
      // Never 'busy': only a revalidation is told about another process's lock.
      return this.#lookupRemote(m, ex, key, tags, {
        flight: undefined,
        fallback,
      }) as Promise<Lookup>
    }
    return { type: 'miss', fill: this.#fill(m, ex, key, tags, undefined, fallback) }
  }

  #tagsFor(m: RuleMatch<CompiledCacheRule>, ex: Exchange): string[] {
    const rule = m.rule
    const vars: TemplateVars = { params: m.params, user: ex.user }
    if (ex.rawQuery !== '') vars.query = parseQuery(ex.rawQuery)
    const tags = rule.tags.map((t) => t.render(vars))
    tags.push(rule.routeTag)
    if (rule.perUser && ex.user !== undefined) tags.push(userTag(ex.user))
    return tags
  }

  #fill(
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
    key: string,
    tags: string[],
    flight: Flight | undefined,
    stale: CacheEntry | undefined,
    revalidation = false,
    base?: CacheEntry,
  ): Fill {
    return new Fill(this, {
      rule: m.rule,
      key,
      path: ex.path,
      fence: this.#state.fence(tags),
      flight,
      stale,
      base,
      revalidation,
      request: m.rule.origin ? { ...ex.headers } : undefined,
    })
  }

  #toEntry(key: string, r: StoredResponse, fence: Fill['fence']): CacheEntry {
    return {
      key,
      status: r.status,
      headers: r.headers,
      body: r.body,
      etag: r.etag,
      cachedAt: r.cachedAt,
      staleAt: r.staleAt,
      deleteAt: Math.min(r.deleteAt, r.cachedAt + this.#l1MaxTtlMs),
      tags: fence.tags,
      tagVersions: fence.versions,
      path: r.path,
      patternSeq: fence.patternSeq,
      validatedEpoch: 0,
      size: entrySize(key, r.headers, r.body, fence.tags),
    }
  }

  /** Stores in the memory tier when it is usable and nothing was invalidated since `fence`. */
  #storeLocal(entry: CacheEntry, fence: Fill['fence'], rule?: CompiledCacheRule): boolean {
    if (!this.#l1Usable()) return false
    const checkedUpTo = this.#state.fenceHolds(fence, entry.path)
    if (checkedUpTo === false) return false
    entry.patternSeq = checkedUpTo
    entry.validatedEpoch = this.#state.epoch
    if (rule?.compress === true && entry.encoded === undefined) {
      const encoded = encodeVariants(entry.status, entry.headers, entry.body)
      if (encoded !== undefined) {
        entry.encoded = encoded
        ;(entry as { size: number }).size += encoded.size
      }
    }
    if (this.#l1MaxTtlMs !== Number.POSITIVE_INFINITY) {
      const cap = entry.cachedAt + this.#l1MaxTtlMs
      if (entry.deleteAt > cap) (entry as { deleteAt: number }).deleteAt = cap
    }
    return (this.l1 as MemoryTier).set(entry)
  }

  /** Stores a fill's entry in the memory tier (counted), and the variant index beside it. */
  #storeFill(fill: Fill, entry: CacheEntry, index?: CacheEntry): boolean {
    const stored = this.#storeLocal(entry, fill.fence, fill.rule)
    if (stored) this.#stored(fill.rule, 'memory')
    if (stored && index !== undefined) this.#storeLocal(index, fill.fence, fill.rule)
    return stored
  }

  /** Counts a fill's end: a miss (X-Cache MISS) or a response-side bypass, and its origin time. */
  #fillEnded(
    fill: Fill,
    entry: CacheEntry | undefined,
    reason: ResponseBypassReason | undefined,
  ): void {
    const decision =
      entry !== undefined
        ? { at: Date.now(), stored: true }
        : {
            at: Date.now(),
            stored: false,
            reason: reason ?? (fill.failed ? 'origin-failed' : 'aborted'),
          }
    this.#decisions.delete(fill.key)
    this.#decisions.set(fill.key, decision)
    if (this.#decisions.size > DECISIONS_KEPT) {
      const oldest = this.#decisions.keys().next().value
      if (oldest !== undefined) this.#decisions.delete(oldest)
    }
    if (fill.revalidation) return
    const m = this.metrics[fill.rule.index] as RuleMetrics
    const rule = fill.rule.name
    if (reason !== undefined) {
      m.bypass(reason)
      if (this.listenerCount('bypass') > 0) this.emit('bypass', { rule, reason, side: 'response' })
      return
    }
    m.misses++
    if (entry !== undefined) {
      m.originSeconds += fill.originSeconds
      m.originFills++
    }
    if (this.listenerCount('miss') > 0)
      this.emit('miss', { rule, stored: entry !== undefined, originSeconds: fill.originSeconds })
  }

  #stored(rule: CompiledCacheRule, tier: 'memory' | 'shared'): void {
    const m = this.metrics[rule.index] as RuleMetrics
    if (tier === 'memory') m.storesMemory++
    else m.storesShared++
    if (this.listenerCount('store') > 0) this.emit('store', { rule: rule.name, tier })
  }

  /** Latency of a request the adapter answered: a hit (or stale answer) or a miss. */
  observe(rule: CompiledCacheRule, kind: 'hit' | 'miss', seconds: number): void {
    const m = this.metrics[rule.index] as RuleMetrics
    ;(kind === 'hit' ? m.hitLatency : m.missLatency).observe(seconds)
  }

  /** Releases a flight's waiters; forgets the flight if it is still the key's. */
  #settle(key: string, flight: Flight, entry: CacheEntry | undefined, failed = false): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key)
    flight.settle(entry, failed)
  }

  servedStale(fill: Fill, entry: CacheEntry): void {
    this.#servedStale(fill.rule, 'error', entry, Date.now())
  }

  staleUsable(entry: CacheEntry): boolean {
    return this.#state.isValid(entry)
  }

  /** Called by a fill exactly once: store the entry if its fence holds, then release waiters. */
  complete(
    fill: Fill,
    entry: CacheEntry | undefined,
    reason: ResponseBypassReason | undefined,
  ): void {
    this.#fillEnded(fill, entry, reason)
    if (entry === undefined) {
      // A marker only for a response that will be refused again (a veto); an
      // origin failure (5xx, thrown, cut short) is no reason to stop coalescing.
      // Nor for a 304 naming another representation: the copy it was asked
      // about is outdated, and is dropped; the next request asks unconditionally.
      const mismatch = reason === 'validator-mismatch'
      const marked = reason !== undefined && !fill.failed && !mismatch
      if (marked) {
        debug('not stored %s %s: %s', fill.rule.name, fill.path, reason)
        this.#markers.set(fill.key, reason, Date.now() + Math.min(fill.rule.ttlMs, MARKER_MAX_MS))
      }
      if (mismatch) this.l1?.delete(fill.storeKey)
      if (mismatch && fill.remote !== undefined && fill.base !== undefined)
        this.#remote?.drop(fill, fill.base)
      else if (fill.remote !== undefined) this.#remote?.abandon(fill, marked ? reason : undefined)
      if (fill.flight !== undefined)
        this.#settle(fill.flightKey, fill.flight, undefined, fill.failed)
      if (fill.revalidation) this.#endRevalidation(fill.key, 'not-stored', fill.rule.name)
      return
    }
    this.#markers.delete(fill.key)
    // A variant (see variants.ts): its URI's key gets the index naming the headers it varies on.
    const index =
      fill.variantNames.length === 0
        ? undefined
        : variantIndex(primaryKeyOf(entry.key), fill.variantNames, entry, fill.rule.ttlMs)
    if (fill.remote === undefined) {
      const stored = this.#storeFill(fill, entry, index)
      if (!stored)
        debug('not stored %s %s: invalidated while the origin ran', fill.rule.name, fill.path)
      if (fill.flight !== undefined)
        this.#settle(fill.flightKey, fill.flight, stored ? entry : undefined)
      if (fill.revalidation)
        this.#endRevalidation(fill.key, stored ? 'stored' : 'not-stored', fill.rule.name)
      return
    }
    // With a healthy bus this process has applied every invalidation reported
    // done, so its own fence is enough for the waiters here: they are not held
    // back by the shared tier's write. Without one, they wait for the shared
    // tier's fence (which knows every invalidation) to accept the entry.
    const remote = this.#remote as RemotePath
    const trusted = remote.tier.coherent && remote.tier.trusted()
    let released = false
    if (trusted && fill.flight !== undefined) {
      const holds = this.#state.fenceHolds(fill.fence, entry.path) !== false
      this.#settle(fill.flightKey, fill.flight, holds ? entry : undefined)
      released = true
    }
    const writing = remote.write(fill, entry, index).then((written) => {
      // The shared tier's fence refused it: an invalidation this process may
      // not know of yet came after the fill started. When the tier could not
      // be asked, a healthy bus makes the local fence enough.
      if (written === true) this.#stored(fill.rule, 'shared')
      const storable = written === true || (written === undefined && remote.tier.trusted())
      const stored = storable && this.#storeFill(fill, entry, index)
      if (fill.flight !== undefined && !released)
        this.#settle(fill.flightKey, fill.flight, written === true ? entry : undefined)
      if (!stored && written !== true) debug('not stored %s %s: fenced', fill.rule.name, fill.path)
      if (fill.revalidation)
        this.#endRevalidation(
          fill.key,
          stored || written === true ? 'stored' : 'not-stored',
          fill.rule.name,
        )
    })
    this.#writes.add(writing)
    const written = () => void this.#writes.delete(writing)
    writing.then(written, written)
  }

  /**
   * Resolves once the fills completed so far are stored (or refused) in every
   * tier: a fill's response can be finished before the shared tier's write
   * answers, and the memory tier stores after it.
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#writes])
  }

  /**
   * The `n` most requested URLs (path and query as first requested for their
   * key), most requested first; empty unless `warm.track` is set. Counts are
   * upper bounds (see README, Warm-up).
   */
  topUrls(n: number): TopUrl[] {
    return this.#top?.top(n) ?? []
  }

  /** A count read back from the shared tier, merged into the memory list. */
  #seedTop(url: string, count: number): void {
    const { path, rawQuery } = splitUrl(url)
    const m = this.rules.match('GET', path)
    if (m === undefined || m.rule.kind !== 'cache' || !Number.isFinite(count)) return
    const ex: Exchange = { method: 'GET', path, rawQuery, headers: {}, user: undefined }
    this.#top?.seed(m.rule, buildKey(this.#namespace, m.rule, ex), url, count)
  }

  /**
   * What a successful write matched by `m` invalidates. An unsafe method's
   * implicit rule (origin-driven, see `#targetMatch`) invalidates its target,
   * and the paths its response's `Location` and `Content-Location` name on
   * the same host when an origin-driven rule caches them (RFC 9111 §4.4).
   */
  writeTarget(
    m: RuleMatch<CompiledWriteRule>,
    ex: Exchange,
    response?: WriteResponse,
  ): NormalizedTarget {
    const spec = m.rule.invalidates
    const vars: TemplateVars = { params: m.params, user: ex.user }
    if (ex.rawQuery !== '') vars.query = parseQuery(ex.rawQuery)
    return {
      tags: spec.tags.map((t) => t.render(vars)).filter((t) => t !== ''),
      patterns: spec.target === true ? this.#targetPatterns(ex, response) : spec.patterns,
      users: spec.user && ex.user !== undefined ? [ex.user] : [],
    }
  }

  #targetPatterns(ex: Exchange, response: WriteResponse | undefined): string[] {
    const patterns = [literalPattern(ex.path)]
    if (response === undefined) return patterns
    for (const value of [response.location, response['content-location']]) {
      const path = sameHostPath(value, ex)
      if (path === undefined) continue
      const pattern = literalPattern(path)
      const g = this.rules.match('GET', path)
      if (!patterns.includes(pattern) && g?.rule.kind === 'cache' && g.rule.origin)
        patterns.push(pattern)
    }
    return patterns
  }

  /**
   * Invalidates by tags, path pattern or user. Resolves once the invalidation
   * is in effect everywhere: no response stored before the call is served
   * afterwards by any process. When that cannot be promised it rejects, or,
   * with `onInvalidationFailure: 'defer'`, resolves with `deferred: true`
   * (applied in this process, replayed to the shared tier later).
   */
  async invalidate(
    target: InvalidationTarget,
    options: { by?: string } = {},
  ): Promise<InvalidationRecord> {
    const by = options.by === undefined ? 'api' : options.by
    return this.#apply(normalizeTarget(target), by, this.#onInvalidationFailure)
  }

  /**
   * Invalidates every response this cache stored, in every process (a path
   * pattern that matches every path, recorded like any other).
   */
  purge(options: { by?: string } = {}): Promise<InvalidationRecord> {
    return this.invalidate({ pattern: PURGE_ALL_PATTERN }, options)
  }

  /** Runs a write rule's invalidation; the adapter awaits it before sending the write's response. */
  async invalidateAfterWrite(
    m: RuleMatch<CompiledWriteRule>,
    ex: Exchange,
    response?: WriteResponse,
  ): Promise<InvalidationRecord> {
    const mode = m.rule.onInvalidationFailure ?? this.#onInvalidationFailure
    return this.#apply(this.writeTarget(m, ex, response), `rule ${m.rule.name}`, mode)
  }

  async #apply(
    target: NormalizedTarget,
    by: string,
    mode: InvalidationFailureMode,
  ): Promise<InvalidationRecord> {
    const plan = this.#state.plan(target)
    const started = Date.now()
    // Locally first: it can only cause misses, and this process is covered
    // even before the bus brings the message back.
    this.#state.apply(plan, started)
    let error: Error | undefined
    let deferred = false
    const remote = this.#remote
    if (remote !== undefined && mode === 'defer' && remote.outbox.size > 0) {
      // The tier has not answered since the last deferral: wait for nothing,
      // the replay records it with the others.
      remote.defer(plan)
      deferred = true
    } else if (remote !== undefined) {
      try {
        await remote.invalidate(plan)
      } catch (err) {
        if (mode === 'defer') {
          remote.defer(plan)
          deferred = true
        } else error = err as Error
      }
    }
    const c = this.invalidations
    if (deferred) c.deferred++
    else if (error === undefined) {
      c.done++
      c.tags += target.tags.length
      c.patterns += target.patterns.length
      c.users += target.users.length
    } else c.failed++
    const record: InvalidationRecord = {
      at: started,
      by,
      tags: target.tags,
      patterns: target.patterns,
      users: target.users,
      ok: error === undefined && !deferred,
      deferred,
      ms: Date.now() - started,
    }
    if (this.#recent.length >= RECENT_INVALIDATIONS) this.#recent.shift()
    this.#recent.push(record)
    if (this.listenerCount('invalidate') > 0) this.emit('invalidate', record)
    debug(
      'invalidated by %s %o%s',
      by,
      plan,
      error === undefined ? (deferred ? ' (deferred)' : '') : `: ${error.message}`,
    )
    if (error !== undefined) throw error
    return record
  }

  /**
   * Why a request would (not) be served from or stored in the cache: the rule
   * it matches, the components of its key (never the raw key), freshness and
   * stale windows, what the memory tier holds for it, and the last storage
   * decision for that key in this process. Reads nothing from the shared tier
   * and changes nothing.
   */
  explain(request: ExplainRequest): Explanation {
    const method = (request.method ?? 'GET').toUpperCase()
    const { path, rawQuery } = splitUrl(request.url)
    const headers = request.headers ?? {}
    const m = this.rules.match(method, path)
    if (m === undefined) return { method, path, matched: false }
    const rule = m.rule
    if (rule.kind === 'invalidate') {
      const target = this.writeTarget(m as RuleMatch<CompiledWriteRule>, {
        method,
        path,
        rawQuery,
        headers,
        user: request.user,
      })
      return {
        method,
        path,
        matched: true,
        rule: { name: rule.name, path: rule.path, kind: 'write' },
        invalidates: { tags: target.tags, patterns: target.patterns, users: target.users },
      }
    }
    const ex: Exchange = { method, path, rawQuery, headers, user: request.user }
    const cm = m as RuleMatch<CompiledCacheRule>
    const query = parseQuery(rawQuery)
    const keyQuery: Array<[string, string]> =
      rule.key.query === 'none'
        ? []
        : rule.key.query === 'all'
          ? [...query].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
          : rule.key.query.flatMap((name) =>
              query.getAll(name).map((v) => [name, v] as [string, string]),
            )
    const explanation: Explanation = {
      method,
      path,
      matched: true,
      rule: {
        name: rule.name,
        path: rule.path,
        kind: 'cache',
        ttlSeconds: rule.ttlMs / 1000,
        staleWhileRevalidateSeconds: rule.staleWhileRevalidateMs / 1000,
        staleIfErrorSeconds: rule.staleIfErrorMs / 1000,
        perUser: rule.perUser,
        statuses: [...rule.statuses],
        maxBodySize: rule.maxBodySize,
      },
      key: {
        path,
        query: keyQuery,
        ignoredQuery: [...query.keys()].filter((n) => !keyQuery.some(([k]) => k === n)),
        headers: rule.key.headers.map((h) => [h, String(headers[h] ?? '')] as [string, string]),
        perUser: rule.perUser,
      },
      tags: this.#tagsFor(cm, ex).filter((t) => !t.startsWith('#')),
    }
    const bypass = requestBypassReason(rule, headers, request.user, rawQuery)
    if (bypass !== undefined) return { ...explanation, bypass }
    const now = Date.now()
    let key = buildKey(this.#namespace, rule, ex)
    const index = this.l1?.peek(key)
    if (index !== undefined && index.status === VARIANT_INDEX_STATUS)
      key = variantKey(key, indexNames(index), ex.headers)
    const entry = this.l1?.peek(key)
    if (entry !== undefined && now < entry.deleteAt && this.#state.isValid(entry)) {
      const staleMs = now - entry.staleAt
      explanation.memory = {
        state:
          staleMs < 0
            ? 'fresh'
            : staleMs < storedWindows(rule, entry.headers).swrMs
              ? 'stale-while-revalidate'
              : staleMs < storedWindows(rule, entry.headers).sieMs
                ? 'stale-if-error'
                : 'expired',
        ageSeconds: Math.floor((now - entry.cachedAt) / 1000),
        ttlSeconds: Math.ceil(-staleMs / 1000),
        bytes: entry.size,
      }
    } else explanation.memory = { state: 'absent' }
    const decision = this.#decisions.get(key)
    if (decision !== undefined) explanation.last = { ...decision }
    return explanation
  }

  /** The last invalidations this process made (at most 50), oldest first. */
  recentInvalidations(): readonly InvalidationRecord[] {
    return this.#recent.slice()
  }

  /** A snapshot of the engine's counters and tier state. */
  stats(): CacheStats {
    const c = this.#counters
    const l1 = this.l1
    const remote = this.#remote
    return {
      l1:
        l1 === undefined
          ? undefined
          : {
              entries: l1.size,
              bytes: l1.bytes,
              maxBytes: l1.maxBytes,
              evictions: l1.evictions,
            },
      l2:
        remote === undefined
          ? undefined
          : {
              name: remote.tier.name,
              breaker: remote.breaker.state,
              breakerOpened: remote.breaker.opened,
              breakerRejected: remote.breaker.rejected,
              errors: { ...c.errors },
              timeouts: c.timeouts,
              trusted: remote.tier.trusted(),
              outbox: {
                pending: remote.outbox.size,
                deferred: remote.outbox.deferred,
                replayed: remote.outbox.replayed,
                overflows: remote.outbox.overflows,
              },
            },
      stale: { ...c.stale },
      revalidations: { ...c.revalidations },
      rules: this.rules.rules.flatMap((r) => {
        if (r.kind !== 'cache') return []
        const m = this.metrics[r.index] as RuleMetrics
        const served = m.hits + m.staleRevalidate + m.staleError
        const total = served + m.misses
        return [
          {
            name: r.name,
            hits: { memory: m.hitsMemory, shared: m.hitsShared },
            misses: m.misses,
            stale: { revalidate: m.staleRevalidate, error: m.staleError },
            bypasses: Object.fromEntries(m.bypasses),
            stores: { memory: m.storesMemory, shared: m.storesShared },
            hitRatio: total === 0 ? 0 : served / total,
            savedSeconds: m.savedSeconds,
          },
        ]
      }),
      invalidations: { ...this.invalidations },
    }
  }

  /** Drops every entry of the memory tier. */
  clear(): void {
    this.l1?.clear()
  }

  async close(): Promise<void> {
    for (const flight of this.#flights.values()) flight.settle(undefined)
    this.#flights.clear()
    await this.#sharedTop?.close()
    await this.#remote?.close()
    this.#tierLog?.close()
    await this.#remote?.tier.close()
  }
}
