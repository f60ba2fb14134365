import { EventEmitter } from 'node:events'
import type { CacheEntry } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import {
  type InvalidationTarget,
  type NormalizedTarget,
  normalizeTarget,
} from '../invalidation/target'
import type { CacheEvents, CacheStats, Explanation, InvalidationRecord } from '../observe/events'
import { type ExplainRequest, explain } from '../observe/explain'
import type { InvalidationCounts, RuleMetrics } from '../observe/metrics'
import { servedStale } from '../observe/outcomes'
import { stats } from '../observe/stats'
import type { ReadyStatus } from '../observe/tier-log'
import type { RuleSet } from '../rules/rule-set'
import type { CompiledCacheRule, CompiledWriteRule, RuleMatch } from '../rules/types'
import type { MemoryTier } from '../tiers/memory-tier'
import type { TopUrl } from '../warm/top-urls'
import type { Exchange } from './exchange'
import type { Fill, FillSink } from './fill'
import { createEngineState } from './stages/create'
import {
  applyInvalidation,
  PURGE_ALL_PATTERN,
  type WriteResponse,
  writeTarget,
} from './stages/invalidate'
import { lookup, peek } from './stages/lookup'
import { matchRequest } from './stages/match'
import { refresh } from './stages/refresh'
import { refreshSettled } from './stages/revalidate'
import type { EngineState, Lookup, RefreshClaim } from './stages/state'
import { complete, settled } from './stages/store'

// The engine's stages live in stages/, one file each; this class holds their
// state and delegates. What its callers import from here is re-exported.
export type { ExplainRequest } from '../observe/explain'
export {
  literalPattern,
  PURGE_ALL_PATTERN,
  sameHostPath,
  type WriteResponse,
} from './stages/invalidate'
export { REVALIDATE_RETRY_MS } from './stages/revalidate'
export type { Lookup, RefreshClaim } from './stages/state'
export { MARKER_MAX_MS } from './stages/store'

/**
 * The orchestrator: it matches a request to a rule, looks it up in the memory
 * tier and then the shared tier, coalesces concurrent misses, stores what a
 * fill captured when its fence still holds, and applies invalidations.
 * Framework-free; the adapters translate.
 */
export class CacheEngine extends EventEmitter<CacheEvents> implements FillSink {
  readonly rules: RuleSet
  /** The memory tier; `undefined` when turned off (`store.l1: false`). */
  readonly l1: MemoryTier | undefined
  /** Counters per rule, by the rule's index. */
  readonly metrics: readonly RuleMetrics[]
  readonly invalidations: InvalidationCounts
  readonly #s: EngineState

  constructor(options: unknown) {
    super()
    const s = createEngineState(options, this)
    this.#s = s
    this.rules = s.rules
    this.l1 = s.l1
    this.metrics = s.metrics
    this.invalidations = s.invalidations
  }

  /**
   * Connects the shared tier's bus; resolves once this process takes part in
   * invalidations (and, with `warm.track`, once the shared top URLs are read
   * back), or once it gave up waiting (2 s): with what happened (see
   * `ReadyStatus`). Never rejects for an unreachable tier; rejects when the
   * disk tier (`store.l3`) cannot be opened (its directory held by another
   * process), once everything else has started: the cache works on without it.
   */
  async start(): Promise<ReadyStatus> {
    const s = this.#s
    const started = Date.now()
    let refused: unknown
    await s.remote?.start().catch((err: unknown) => {
      refused = err
    })
    await s.sharedTop?.start()
    if (refused !== undefined) throw refused
    if (s.remote === undefined || s.tierLog === undefined) return { shared: 'none' }
    const tier = s.remote.tier
    return s.tierLog.status(!tier.coherent || tier.trusted(), Date.now() - started)
  }

  /** The rule a request matches (an unsafe method also an origin-driven rule's target). */
  match(method: string, path: string): RuleMatch | undefined {
    return matchRequest(this.#s, method, path)
  }

  /**
   * A memory hit for a request, or nothing — never a fill, never a wait. For
   * answering hits before the framework runs (`cache.edge()`); per-user rules
   * are left to the middleware, which knows the verified user.
   */
  peek(m: RuleMatch<CompiledCacheRule>, ex: Exchange): CacheEntry | undefined {
    return peek(this.#s, m, ex)
  }

  /** Hit, stale, bypass or miss; synchronous on a memory hit and when there is no shared tier. */
  lookup(m: RuleMatch<CompiledCacheRule>, ex: Exchange): Lookup | Promise<Lookup> {
    return lookup(this.#s, m, ex)
  }

  /**
   * The adapter's internal request for `claim` has ended. When it never
   * reached the cache (the app answered it before the cache middleware: an
   * auth check, a 404), the refresh is over without a fill: another may start
   * after `REVALIDATE_RETRY_MS`.
   */
  refreshSettled(claim: RefreshClaim, rule: string): void {
    refreshSettled(this.#s, claim, rule)
  }

  /** How long an internal refresh request may run before it is cut. */
  get refreshTimeoutMs(): number {
    return this.#s.abandonFlightMs
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
    return refresh(this.#s, m, ex)
  }

  /** Latency of a request the adapter answered: a hit (or stale answer) or a miss. */
  observe(rule: CompiledCacheRule, kind: 'hit' | 'miss', seconds: number): void {
    const m = this.metrics[rule.index] as RuleMetrics
    ;(kind === 'hit' ? m.hitLatency : m.missLatency).observe(seconds)
  }

  servedStale(fill: Fill, entry: CacheEntry, reason: 'error' | 'timeout'): void {
    servedStale(this.#s, fill.rule, reason, entry, Date.now())
  }

  staleUsable(entry: CacheEntry): boolean {
    return this.#s.local.isValid(entry)
  }

  /** Called by a fill exactly once: store the entry if its fence holds, then release waiters. */
  complete(
    fill: Fill,
    entry: CacheEntry | undefined,
    reason: ResponseBypassReason | undefined,
  ): void {
    complete(this.#s, fill, entry, reason)
  }

  /**
   * Resolves once the fills completed so far are stored (or refused) in every
   * tier: a fill's response can be finished before the shared tier's write
   * answers, and the memory tier stores after it.
   */
  settled(): Promise<void> {
    return settled(this.#s)
  }

  /**
   * The `n` most requested URLs (path and query as first requested for their
   * key), most requested first; empty unless `warm.track` is set. Counts are
   * upper bounds (see docs/operating.md, Warm-up).
   */
  topUrls(n: number): TopUrl[] {
    return this.#s.top?.top(n) ?? []
  }

  /**
   * What a successful write matched by `m` invalidates. An unsafe method's
   * implicit rule (origin-driven, see `match`) invalidates its target, and
   * the paths its response's `Location` and `Content-Location` name on the
   * same host when an origin-driven rule caches them (RFC 9111 §4.4).
   */
  writeTarget(
    m: RuleMatch<CompiledWriteRule>,
    ex: Exchange,
    response?: WriteResponse,
  ): NormalizedTarget {
    return writeTarget(this.#s, m, ex, response)
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
    return applyInvalidation(this.#s, normalizeTarget(target), by, this.#s.onInvalidationFailure)
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
    const mode = m.rule.onInvalidationFailure ?? this.#s.onInvalidationFailure
    return applyInvalidation(
      this.#s,
      this.writeTarget(m, ex, response),
      `rule ${m.rule.name}`,
      mode,
    )
  }

  /**
   * Why a request would (not) be served from or stored in the cache: the rule
   * it matches, the components of its key (never the raw key), freshness and
   * stale windows, what the memory tier holds for it, and the last storage
   * decision for that key in this process. Reads nothing from the shared tier
   * and changes nothing.
   */
  explain(request: ExplainRequest): Explanation {
    return explain(this.#s, request)
  }

  /** The last invalidations this process made (at most 50), oldest first. */
  recentInvalidations(): readonly InvalidationRecord[] {
    return this.#s.recent.slice()
  }

  /** A snapshot of the engine's counters and tier state. */
  stats(): CacheStats {
    return stats(this.#s)
  }

  /** Drops every entry of the memory tier. */
  clear(): void {
    this.l1?.clear()
  }

  async close(): Promise<void> {
    const s = this.#s
    for (const flight of s.flights.values()) flight.settle(undefined)
    s.flights.clear()
    await s.sharedTop?.close()
    await s.cdn?.queue?.close()
    await s.remote?.close()
    s.tierLog?.close()
    await s.remote?.tier.close()
  }
}
