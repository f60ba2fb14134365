import type { StoredResponse } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'

export type { StoredResponse }

/**
 * What a remote tier needs, when a fill ends, to store it only if nothing it
 * depends on was invalidated since the fill started (the versions it read),
 * and to release the cross-process fill lock it may hold. Opaque to the engine.
 */
export interface RemoteFence {
  readonly lock: boolean
}

export type RemoteRead =
  | {
      readonly kind: 'hit'
      readonly response: StoredResponse
      /** Path patterns invalidated since the entry was stored; the engine matches them. */
      readonly patternsSince: readonly string[]
    }
  | {
      readonly kind: 'miss'
      readonly fence: RemoteFence
      /** `busy`: another process holds the fill lock for this key. */
      readonly lock: 'acquired' | 'busy' | 'none'
      /** A recent response for this key could not be stored. */
      readonly marker?: ResponseBypassReason
    }

/** What a tier tells the engine about invalidations made by other processes. */
export interface CoherenceHooks {
  /** Another process invalidated this: drop it from the memory tier. */
  onInvalidate(plan: InvalidationPlan): void
  /** Messages may have been missed: the memory tier can no longer be trusted as it is. */
  onResync(): void
  /**
   * The tier's own background traffic (a lease renewal, a resync) just
   * succeeded: an open circuit breaker may probe now instead of waiting out
   * its cooldown.
   */
  onHealthy?(): void
}

/**
 * A shared tier (Redis, a Keyv store) behind the memory tier. Every method
 * may reject (the engine treats that as a miss, or as a failed invalidation)
 * and never blocks a request beyond its own deadline.
 */
export interface RemoteTier {
  readonly name: string
  /**
   * Whether invalidations reach this process's memory tier through a bus with
   * acknowledgements. Without it the engine keeps memory entries only for
   * `store.l1.maxTtl`.
   */
  readonly coherent: boolean
  /**
   * One round trip: the entry for `key` if it is still valid for `tags`;
   * otherwise the fence for a fill (and, when `lock`, the fill lock).
   */
  read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead>
  /** Stores a fill's response if its fence still holds; resolves whether it was stored. */
  write(key: string, response: StoredResponse, fence: RemoteFence): Promise<boolean>
  /** A fill that stored nothing: release its lock, and remember why for `markerMs`. */
  abandon(
    key: string,
    fence: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void>
  /** Durable and acknowledged by every live process, or it rejects. */
  invalidate(plan: InvalidationPlan): Promise<void>
  /** Whether this process may serve from its memory tier now (always true when not coherent). */
  trusted(): boolean
  start(hooks: CoherenceHooks): Promise<void>
  close(): Promise<void>
}
