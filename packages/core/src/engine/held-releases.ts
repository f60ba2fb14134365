import type { RemoteFence, RemoteTier } from '../tiers/remote-tier'
import type { Fill } from './fill'

/** Lock releases held back by an open breaker: at most this many, this old (locks expire anyway). */
const MAX_HELD_RELEASES = 1000
const HELD_RELEASE_MAX_AGE_MS = 60_000

/**
 * Fill locks whose release an open breaker held back (remote-path.ts). A
 * fill whose write or abandon the open breaker kept from the tier may hold
 * the fill lock: left to expire, it would keep other processes waiting for
 * this fill (polling, up to `coalesce.maxWait`) until the tier's `lockTtl`
 * runs out, long after Redis answers again. Released as soon as the breaker
 * closes, in the background (no request waits for it, and the breaker has no
 * say in it).
 */
export class HeldReleases {
  readonly #tier: RemoteTier
  readonly #held: Array<{ key: string; fence: RemoteFence; at: number }> = []

  constructor(tier: RemoteTier) {
    this.#tier = tier
  }

  /** Keeps the release of `fill`'s lock, if it holds one, for `send`. */
  hold(fill: Fill): void {
    const fence = fill.remote as RemoteFence | undefined
    if (fence?.lock !== true) return
    if (this.#held.length >= MAX_HELD_RELEASES) this.#held.shift()
    this.#held.push({ key: fill.key, fence, at: Date.now() })
  }

  /** Sends the releases held, but those older than the longest a lock is worth releasing. */
  send(): void {
    const now = Date.now()
    for (const { key, fence, at } of this.#held.splice(0)) {
      if (now - at < HELD_RELEASE_MAX_AGE_MS) this.#tier.abandon(key, fence).catch(() => {})
    }
  }
}
