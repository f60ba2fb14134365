import { debuglog } from 'node:util'
import type { CacheEntry } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import { compilePath } from '../rules/path-pattern'
import type { CoherenceHooks, RemoteFence, RemoteTier, StoredResponse } from '../tiers/remote-tier'
import type { Fill } from './fill'
import type { BypassReason } from './status-headers'

const debug = debuglog('cachet')

/** Longest a marker for an unstorable response lasts in the shared tier. */
const MARKER_MAX_MS = 120_000
/** Polling a key whose fill lock another process holds: first and longest pause. */
const POLL_FIRST_MS = 5
const POLL_MAX_MS = 50

export type RemoteLookup =
  | { readonly kind: 'hit'; readonly response: StoredResponse }
  | { readonly kind: 'bypass'; readonly reason: BypassReason }
  /** `fence` is undefined when the shared tier could not be asked: store locally only. */
  | { readonly kind: 'miss'; readonly fence: RemoteFence | undefined }

/**
 * The engine's side of a shared tier: one read per miss (entry, or fence and
 * fill lock), waiting for another process's fill, and the tier's failures
 * turned into misses. A tier error never fails a request.
 */
export class RemotePath {
  readonly tier: RemoteTier
  readonly #maxWaitMs: number
  readonly #hooks: CoherenceHooks
  readonly #patterns = new Map<string, (path: string) => unknown>()

  constructor(tier: RemoteTier, maxWaitMs: number, hooks: CoherenceHooks) {
    this.tier = tier
    this.#maxWaitMs = maxWaitMs
    this.#hooks = hooks
  }

  start(): Promise<void> {
    return this.tier.start(this.#hooks)
  }

  async lookup(
    key: string,
    tags: readonly string[],
    path: string,
    lock: boolean,
  ): Promise<RemoteLookup> {
    const deadline = Date.now() + this.#maxWaitMs
    let pause = POLL_FIRST_MS
    let skipEntry = false
    for (;;) {
      let read: Awaited<ReturnType<RemoteTier['read']>>
      try {
        read = await this.tier.read(key, tags, { lock, skipEntry })
      } catch (err) {
        debug('%s read failed: %s', this.tier.name, (err as Error).message)
        return { kind: 'miss', fence: undefined }
      }
      if (read.kind === 'hit') {
        const fresh = Date.now() < read.response.staleAt
        if (fresh && !read.patternsSince.some((p) => this.#matches(p, path))) {
          return { kind: 'hit', response: read.response }
        }
        // Past its freshness, or a pattern invalidated since it was stored
        // covers this path: read again for a fill's fence.
        skipEntry = true
        continue
      }
      if (read.marker === 'too-large') return { kind: 'bypass', reason: read.marker }
      if (read.lock !== 'busy' || Date.now() + pause > deadline)
        return { kind: 'miss', fence: read.fence }
      // Another process is filling this key: its entry will be in the shared tier soon.
      await new Promise((resolve) => setTimeout(resolve, pause))
      pause = Math.min(pause * 2, POLL_MAX_MS)
    }
  }

  #matches(pattern: string, path: string): boolean {
    let match = this.#patterns.get(pattern)
    if (match === undefined) {
      try {
        match = compilePath(pattern).match
      } catch {
        // Unparsable here: treat as matching (fail closed).
        match = () => true
      }
      if (this.#patterns.size > 1000) this.#patterns.clear()
      this.#patterns.set(pattern, match)
    }
    return match(path) !== undefined
  }

  /** Stores a fill's entry in the shared tier; false when fenced out or failed. */
  async write(fill: Fill, entry: CacheEntry): Promise<boolean> {
    try {
      return await this.tier.write(fill.key, entry, fill.remote as RemoteFence)
    } catch (err) {
      debug('%s write failed: %s', this.tier.name, (err as Error).message)
      return false
    }
  }

  abandon(fill: Fill, reason: ResponseBypassReason | undefined): void {
    const marker =
      reason === undefined ? undefined : { reason, ms: Math.min(fill.rule.ttlMs, MARKER_MAX_MS) }
    this.tier.abandon(fill.key, fill.remote as RemoteFence, marker).catch((err: Error) => {
      debug('%s abandon failed: %s', this.tier.name, err.message)
    })
  }
}
