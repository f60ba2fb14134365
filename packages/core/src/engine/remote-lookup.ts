import type { TierOperation } from '../observe/events'
import type { CompiledCacheRule } from '../rules/types'
import type { BreakerState } from '../tiers/breaker'
import type { RemoteFence, StoredResponse } from '../tiers/remote-tier'
import type { BypassReason } from './status-headers'

// What the engine's side of a shared tier (remote-path.ts) answers a
// lookup with, what it is asked, and whom it reports to. Types only.

export type RemoteLookup =
  | { readonly kind: 'hit'; readonly response: StoredResponse }
  /** Past its ttl, inside the rule's stale-while-revalidate window. */
  | { readonly kind: 'stale'; readonly response: StoredResponse }
  /** A variant index (see variants.ts): read the variant the request selects. */
  | { readonly kind: 'index'; readonly response: StoredResponse }
  | { readonly kind: 'bypass'; readonly reason: BypassReason }
  | {
      readonly kind: 'miss'
      /** Undefined when the shared tier could not be asked: store locally only. */
      readonly fence: RemoteFence | undefined
      /** A copy past its ttl inside the rule's stale-if-error window. */
      readonly stale?: StoredResponse
      /** `ttl: 'origin'`: the copy past its freshness a conditional request revalidates. */
      readonly base?: StoredResponse
      /** Another process holds the fill lock (reported only to a revalidation, which does not wait). */
      readonly busy?: boolean
    }
  /**
   * Another process's fill of the key is slower than the rule's
   * `originTimeout`: answer with the stale copy (this one from the shared
   * tier, else the memory tier's), or the rule's `hardStatus`.
   */
  | {
      readonly kind: 'slow'
      readonly stale: StoredResponse | undefined
      /** For a fill of its own (without the lock) when no copy may answer. */
      readonly fence: RemoteFence
    }

export interface RemoteLookupOptions {
  /** Take the cross-process fill lock (this request leads the fill). */
  readonly lock: boolean
  readonly rule: CompiledCacheRule
  /** A background refresh: never answer stale, never wait behind another process's lock. */
  readonly revalidate?: boolean
  /** The memory tier holds a stale-if-error copy (for the rule's `originTimeout`). */
  readonly fallback?: boolean
  /** Another process's fill of the key was slower than the rule's `originTimeout` a moment ago: do not wait for it again. */
  readonly slow?: boolean
}

/** What the shared tier's failures and breaker changes are reported to. */
export interface RemoteReport {
  error(operation: TierOperation, error: Error): void
  breaker(state: BreakerState, previous: BreakerState, failures: number): void
}
