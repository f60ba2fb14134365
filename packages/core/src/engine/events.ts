import type { BreakerState } from '../tiers/breaker'

/** The shared-tier operations a request or an invalidation makes. */
export type TierOperation = 'read' | 'write' | 'abandon' | 'invalidate'

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

export interface StaleEvent {
  /** The rule's name. */
  readonly rule: string
  /** `revalidate`: inside `staleWhileRevalidate`; `error`: inside `staleIfError`, the origin failed. */
  readonly reason: 'revalidate' | 'error'
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

/**
 * What `cache.engine` emits (a Node `EventEmitter`). Emitting costs nothing
 * measurable without listeners; none is emitted on the hit path.
 */
export interface CacheEvents {
  /** A shared-tier operation failed or ran past its deadline; the request went on without it. */
  'tier:error': [TierErrorEvent]
  /** The shared tier's circuit breaker changed state. */
  breaker: [BreakerEvent]
  /** A stale copy was served. */
  stale: [StaleEvent]
  /** A background refresh (stale-while-revalidate) ended. */
  revalidate: [RevalidateEvent]
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
      }
    | undefined
  stale: { revalidate: number; error: number }
  revalidations: { started: number; stored: number; notStored: number; skipped: number }
}
