import type { StoredResponse } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import type { TierScope } from './tier-prefix'

export type { StoredResponse, TierScope }

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
  /**
   * The tier's connection came up, or went down; `cause` in the words of the
   * cause (`ECONNREFUSED 127.0.0.1:6379`). For the engine's log and `ready`.
   */
  onConnection?(up: boolean, cause?: string): void
}

/** What `stats().l3` reports of the disk tier (`store.l3`). */
export interface DiskStats {
  /** `file` (a directory) or `keyv` (a Keyv store). */
  readonly store: 'file' | 'keyv'
  /** Whether it is below a shared tier (`store.l2`), or is the shared tier itself. */
  readonly below: boolean
  /** Files and bytes held (a file store; 0 for a Keyv store, which does not tell). */
  readonly entries: number
  readonly bytes: number
  readonly maxBytes: number
  /**
   * Below a shared tier only (alone, the disk's hits are the rules'
   * `hits.shared` and its failures `l2.errors`): the shared tier's misses
   * answered from disk, copies refused (invalidated since they were
   * written), copies written, and disk operations that failed or ran past
   * their deadline.
   */
  readonly counts?: {
    readonly hits: number
    readonly refused: number
    readonly writes: number
    readonly errors: number
  }
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
  /** Where the tier is, for messages, without credentials (`redis://127.0.0.1:6379`). */
  readonly location?: string
  /**
   * Why an operation failed, for messages: the underlying cause
   * (`ECONNREFUSED 127.0.0.1:6379`) rather than the client's words for it.
   */
  causeOf?(error: Error): string
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
  /**
   * Called once by each engine that takes the tier, when it is built, before
   * any other call: a tier whose keys are shared with other apps (tag
   * versions, a bus) puts them under the engine's namespace unless its own
   * prefix says otherwise, and throws a `CachetConfigError` for a
   * combination it cannot honour (see `TierPrefix`).
   */
  attach?(scope: TierScope): void
  /**
   * For a disk tier below this one (`store.l3`): the response as a copy to
   * keep outside the tier, carrying the fence it was stored under.
   */
  seal?(response: StoredResponse, fence: RemoteFence): Buffer
  /**
   * A copy `seal()` made, if it is still valid under `fence` (the fence of a
   * miss of the same key: nothing it depends on was invalidated since it was
   * made); `undefined` when it is not, or is not a copy this tier made.
   */
  unseal?(sealed: Buffer, fence: RemoteFence): StoredResponse | undefined
  /** The disk tier's figures, when the tier has one (`store.l3`). */
  diskStats?(): DiskStats | undefined
  start(hooks: CoherenceHooks): Promise<void>
  close(): Promise<void>
}
