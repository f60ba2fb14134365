import type { PurgeCounts, PurgeReport } from '../cdn/purge-queue'
import type { BreakerState } from '../tiers/breaker'
import type { DiskStats } from '../tiers/remote-tier'

/** The shared-tier operations a request or an invalidation makes. */
export type TierOperation = 'read' | 'write' | 'abandon' | 'invalidate'

/** After each request of a warm-up (the engine's `warm` event; see warm/warm.ts). */
export interface WarmProgress {
  /** Requests finished, out of `total` (the URLs not skipped). */
  readonly done: number
  readonly total: number
  readonly ok: number
  readonly failed: number
}

export interface TierErrorEvent {
  /** The shared tier's name (`redis`, `keyv`). */
  readonly tier: string
  readonly operation: TierOperation
  /** What went wrong; a `DeadlineError` when Redis did not answer in time. */
  readonly error: Error
}

export interface BreakerEvent {
  readonly tier: string
  readonly state: BreakerState
  readonly previous: BreakerState
  /** Failures in a row when the state changed. */
  readonly failures: number
}

/**
 * Why a stale copy was served: `revalidate` (inside `staleWhileRevalidate`,
 * while a refresh runs), `error` (inside `staleIfError`, the origin failed),
 * `timeout` (inside `staleIfError`, the origin was slower than the rule's
 * `originTimeout`).
 */
export type StaleReason = 'revalidate' | 'error' | 'timeout'

export interface StaleEvent {
  /** The rule's name. */
  readonly rule: string
  readonly reason: StaleReason
  /** Milliseconds past the entry's freshness. */
  readonly staleMs: number
}

export interface RevalidateEvent {
  readonly rule: string
  /**
   * `stored`: the background request refreshed the entry; `not-stored`: it
   * answered but the response was not stored (an error, a veto, an
   * invalidation meanwhile); `skipped`: another request or process was already
   * refreshing it, or the shared tier had a fresh copy.
   */
  readonly outcome: 'stored' | 'not-stored' | 'skipped'
}

/** One invalidation this process made, as events and `recentInvalidations()` report it. */
export interface InvalidationRecord {
  /** When it started (ms since the epoch). */
  readonly at: number
  /** Who asked: `api` (`cache.invalidate()`), `rule <name>` (a write rule), or the admin token's name. */
  readonly by: string
  readonly tags: readonly string[]
  readonly patterns: readonly string[]
  readonly users: readonly string[]
  readonly tenants: readonly string[]
  /** `delete`: the entries are gone; `expire`: they are stale (`invalidate({ mode: 'expire' })`). */
  readonly mode: 'delete' | 'expire'
  /** Whether it completed (false: rejected, or deferred; the shared tier could not confirm it). */
  readonly ok: boolean
  /**
   * `onInvalidationFailure: 'defer'`: the shared tier could not record it; it
   * is in effect in this process, and in the others once the outbox is replayed.
   */
  readonly deferred: boolean
  readonly ms: number
}

/**
 * What `cache.engine` emits (a Node `EventEmitter`). An event without
 * listeners costs one `listenerCount` check and no allocation.
 */
export interface CacheEvents {
  /** A request was answered from a tier without running the route. */
  hit: [{ readonly rule: string; readonly tier: 'memory' | 'shared' }]
  /** A request went to the origin and its response was (or was meant to be) stored. */
  miss: [{ readonly rule: string; readonly stored: boolean; readonly originSeconds: number }]
  /** The cache stood aside: a request it would not serve or store, or a response it would not store. */
  bypass: [
    { readonly rule: string; readonly reason: string; readonly side: 'request' | 'response' },
  ]
  /** A response was stored in a tier. */
  store: [{ readonly rule: string; readonly tier: 'memory' | 'shared' }]
  /** An invalidation this process made completed or failed. */
  invalidate: [InvalidationRecord]
  /** A shared-tier operation failed or ran past its deadline; the request went on without it. */
  'tier:error': [TierErrorEvent]
  /** The shared tier's circuit breaker changed state. */
  breaker: [BreakerEvent]
  /** A stale copy was served. */
  stale: [StaleEvent]
  /** A background refresh (stale-while-revalidate) ended. */
  revalidate: [RevalidateEvent]
  /** A warm-up request finished (`cache.warm()`): how far the warm-up is. */
  warm: [WarmProgress]
  /** A call to the CDN's purge API ended (`cdn.purger`): accepted, or failed and to be retried. */
  'cdn:purge': [PurgeReport]
}

/** Counters kept by the engine; `engine.stats()` returns a snapshot. */
export interface CacheStats {
  l1: { entries: number; bytes: number; maxBytes: number; evictions: number } | undefined
  l2:
    | {
        name: string
        breaker: BreakerState
        /** Times the breaker opened. */
        breakerOpened: number
        /** Calls not made because the breaker was open. */
        breakerRejected: number
        /** Failures by operation (deadlines included). */
        errors: Record<TierOperation, number>
        /** Of those, operations that ran past their deadline. */
        timeouts: number
        /** Whether this process may serve from its memory tier (its bus is healthy). */
        trusted: boolean
        /**
         * Invalidations deferred (`onInvalidationFailure: 'defer'`): `pending`
         * (not yet recorded; the shared tier is not read meanwhile), and since
         * the start `deferred`, `replayed` and `overflows` (times the outbox
         * reached its bound and became one purge-everything).
         */
        outbox: { pending: number; deferred: number; replayed: number; overflows: number }
      }
    | undefined
  /** The disk tier (`store.l3`): see `DiskStats`. */
  l3: DiskStats | undefined
  /**
   * The CDN in front (`cdn`): responses whose tags did not fit its limits
   * (sent uncacheable at the CDN), tags sent folded, and the purge queue
   * (`undefined` without a purger).
   */
  cdn:
    | {
        provider: string
        overBudget: number
        folded: number
        purges: PurgeCounts | undefined
      }
    | undefined
  stale: Record<StaleReason, number>
  /**
   * Background refreshes: `started` (of them `ahead`: by a hit past the
   * rule's `refreshAhead` point, the rest by a stale answer), and how they ended.
   */
  revalidations: {
    started: number
    ahead: number
    stored: number
    notStored: number
    skipped: number
  }
  /** Per cache rule, in rule order. */
  rules: RuleStats[]
  invalidations: {
    done: number
    failed: number
    deferred: number
    tags: number
    patterns: number
    users: number
    tenants: number
  }
}

/** One cache rule's counters since the process started. */
export interface RuleStats {
  name: string
  hits: { memory: number; shared: number }
  misses: number
  stale: Record<StaleReason, number>
  /** By reason: request side (`credentials`, `no-user`...) and response vetoes (`set-cookie`, `status`...). */
  bypasses: Record<string, number>
  stores: { memory: number; shared: number }
  /** Answers from the cache (hits and stale) over those and misses; 0 before any request. */
  hitRatio: number
  /** Estimated origin time saved: answers from the cache times the rule's mean origin time. */
  savedSeconds: number
}

/** What `engine.explain(request)` answers. Never contains the raw key. */
export interface Explanation {
  method: string
  path: string
  /** Whether a rule matches the method and path. */
  matched: boolean
  rule?: {
    name: string
    path: string
    kind: 'cache' | 'write'
    ttlSeconds?: number
    staleWhileRevalidateSeconds?: number
    staleIfErrorSeconds?: number
    perUser?: boolean
    statuses?: number[]
    maxBodySize?: number
  }
  /** The key's components: path, the query parameters in the key, those ignored, keyed headers. */
  key?: {
    path: string
    query: Array<[string, string]>
    ignoredQuery: string[]
    headers: Array<[string, string]>
    /** Whether the user is part of the key (the user id itself is not shown). */
    perUser: boolean
  }
  /** The entry's tags (explicit and per-user ones). */
  tags?: string[]
  /** Why the request itself would bypass the cache (credentials, no-user, a body...). */
  bypass?: string
  /** What this process's memory tier holds for the key. */
  memory?: {
    state: 'fresh' | 'stale-while-revalidate' | 'stale-if-error' | 'expired' | 'absent'
    ageSeconds?: number
    /** Seconds of freshness left (negative: how far past it). */
    ttlSeconds?: number
    bytes?: number
  }
  /** The last storage decision for this key in this process: stored, or why not. */
  last?: { at: number; stored: boolean; reason?: string }
  /** A write rule: what a 2xx answer to this request would invalidate. */
  invalidates?: { tags: readonly string[]; patterns: readonly string[]; users: readonly string[] }
}
