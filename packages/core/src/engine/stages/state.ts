import type { EventEmitter } from 'node:events'
import type { CdnConfig } from '../../cdn/options'
import type { PurgeQueue } from '../../cdn/purge-queue'
import type { CacheEntry } from '../../entry/entry'
import type { LocalInvalidationState } from '../../invalidation/local-state'
import type {
  CacheEvents,
  InvalidationRecord,
  StaleReason,
  TierOperation,
} from '../../observe/events'
import type { InvalidationCounts, RuleMetrics } from '../../observe/metrics'
import type { TierLog } from '../../observe/tier-log'
import type { InvalidationFailureMode } from '../../options/cache-options'
import type { RuleSet } from '../../rules/rule-set'
import type { CompiledCacheRule, CompiledWriteRule } from '../../rules/types'
import type { MemoryTier } from '../../tiers/memory-tier'
import type { SharedTopUrls } from '../../warm/shared-top'
import type { TopUrls } from '../../warm/top-urls'
import type { Fill, FillSink } from '../fill'
import type { Flight } from '../flight'
import type { PassMarkers } from '../pass-markers'
import type { RemotePath } from '../remote-path'
import type { BypassReason } from '../status-headers'

// The engine's state, which each stage module (match, lookup, coalesce, fill,
// revalidate, refresh, store, invalidate, explain, stats) reads and updates;
// `CacheEngine` holds one and delegates to the stages. Types only.

export type Lookup =
  /**
   * A fresh copy. `refresh` is set on the one hit that must start the
   * background refresh of a copy past the rule's `refreshAhead` point.
   */
  | { readonly type: 'hit'; readonly entry: CacheEntry; readonly refresh?: RefreshClaim }
  /**
   * A copy past its ttl, served inside a stale window: `revalidate` (the
   * `staleWhileRevalidate` window; when `refresh` is true this request must
   * start the one background refresh), `error` (`staleIfError`: the origin
   * call this request waited on failed) or `timeout` (`staleIfError`: it was
   * slower than the rule's `originTimeout`).
   */
  | {
      readonly type: 'stale'
      readonly entry: CacheEntry
      readonly reason: StaleReason
      /** Set on the one request that must start the background refresh (see `refreshSettled`). */
      readonly refresh: RefreshClaim | undefined
    }
  | { readonly type: 'bypass'; readonly reason: BypassReason }
  /**
   * The client sent `Cache-Control: only-if-cached` and no tier holds a copy
   * that may be sent: answer 504 without going to the origin (RFC 9111 §5.2.1.7).
   */
  | { readonly type: 'unavailable' }
  /**
   * Past the rule's `originTimeout.hard`, with no stale copy, another
   * request's origin call still running: answer `status` (`hardStatus`).
   */
  | { readonly type: 'timeout'; readonly status: 503 | 504 }
  /** Go to the origin; `fill.stale` is the copy to serve if it fails. */
  | { readonly type: 'miss'; readonly fill: Fill }

/** A background refresh under way for a key, until its fill reports (or `until`). */
export interface RefreshClaim {
  readonly key: string
  readonly until: number
}

/** The last storage decision for a key, as `explain()` reports it. */
export interface StorageDecision {
  readonly at: number
  readonly stored: boolean
  readonly reason?: string
}

/** The engine-wide counters `stats()` reports (those per rule are in `metrics`). */
export interface EngineCounters {
  readonly errors: Record<TierOperation, number>
  timeouts: number
  readonly stale: Record<StaleReason, number>
  readonly revalidations: {
    started: number
    ahead: number
    stored: number
    notStored: number
    skipped: number
  }
}

/** What the engine is made of; built once by `createEngineState`. */
export interface EngineState {
  readonly rules: RuleSet
  readonly namespace: string
  /** Whether some cache rule is origin-driven (unsafe methods then invalidate their target). */
  readonly hasOriginRules: boolean
  /** The implicit write rule of each origin-driven rule (see `targetMatch`). */
  readonly targetRules: Map<CompiledCacheRule, CompiledWriteRule>
  /** The memory tier; `undefined` when turned off (`store.l1: false`). */
  readonly l1: MemoryTier | undefined
  /** This process's invalidations: tag versions, pattern log, fences. */
  readonly local: LocalInvalidationState
  readonly remote: RemotePath | undefined
  /** The shared tier's health as log lines (option `logger`), and what `ready` says. */
  readonly tierLog: TierLog | undefined
  readonly flights: Map<string, Flight>
  /**
   * Keys whose fill in another process was slower than the rule's
   * `originTimeout`, until when: meanwhile a request that finds the fill
   * lock still held answers with its stale copy at once.
   */
  readonly slowKeys: Map<string, number>
  readonly markers: PassMarkers
  /** What an invalidation the shared tier cannot record does, unless its write rule says. */
  readonly onInvalidationFailure: InvalidationFailureMode
  readonly maxWaiters: number
  readonly maxWaitMs: number
  /** Age after which a flight is taken for abandoned. */
  readonly abandonFlightMs: number
  /** Cap on a memory entry's lifetime (set when the shared tier has no bus). */
  readonly l1MaxTtlMs: number
  /** Keys with a background refresh under way (or recently failed): when another may start. */
  readonly revalidations: Map<string, RefreshClaim>
  /** The most requested URLs (`warm.track`), and their copy in the shared tier. */
  readonly top: TopUrls | undefined
  readonly sharedTop: SharedTopUrls | undefined
  /** The CDN in front (`cdn`), and its purge queue when it has a purger. */
  readonly cdn: { readonly config: CdnConfig; readonly queue: PurgeQueue | undefined } | undefined
  /** Shared-tier writes of completed fills, until their entry is stored (see `settled`). */
  readonly writes: Set<Promise<void>>
  /** Counters per rule, by the rule's index. */
  readonly metrics: readonly RuleMetrics[]
  readonly invalidations: InvalidationCounts
  /** The last invalidations, for `recentInvalidations()`. */
  readonly recent: InvalidationRecord[]
  /** The last storage decision per key, for `explain()`. */
  readonly decisions: Map<string, StorageDecision>
  readonly counters: EngineCounters
  /** Where events go (the engine itself). */
  readonly events: EventEmitter<CacheEvents>
  /** What fills report to (the engine itself, which hands them to `complete`). */
  readonly sink: FillSink
}
