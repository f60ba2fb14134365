import { debuglog } from 'node:util'
import type { CacheEntry } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import { InvalidationOutbox } from '../invalidation/outbox'
import type { TierOperation } from '../observe/events'
import { compilePath } from '../rules/path-pattern'
import type { CompiledCacheRule } from '../rules/types'
import { type BreakerOptions, CircuitBreaker } from '../tiers/breaker'
import type { CoherenceHooks, RemoteFence, RemoteTier, StoredResponse } from '../tiers/remote-tier'
import type { Fill } from './fill'
import { HeldReleases } from './held-releases'
import { OutboxReplay } from './outbox-replay'
import { slowLimitMs } from './slow-origin'
import { refreshDue, storedWindows } from './stale-windows'
import { isVariantIndex, primaryKeyOf } from './variants'

const debug = debuglog('cachet')

/** Longest a marker for an unstorable response lasts in the shared tier. */
const MARKER_MAX_MS = 120_000
/** Polling a key whose fill lock another process holds: first and longest pause. */
const POLL_FIRST_MS = 5
const POLL_MAX_MS = 50

export { REPLAY_FIRST_MS, REPLAY_MAX_MS } from './outbox-replay'

import type { RemoteLookup, RemoteLookupOptions, RemoteReport } from './remote-lookup'

export type { RemoteLookup, RemoteLookupOptions, RemoteReport }

/**
 * The engine's side of a shared tier: one read per miss (entry, or fence and
 * fill lock), waiting for another process's fill, and the tier's failures
 * turned into misses behind a circuit breaker. A tier error never fails a
 * request, and no request waits on a tier the breaker has given up on.
 */
export class RemotePath {
  readonly tier: RemoteTier
  readonly breaker: CircuitBreaker
  readonly #maxWaitMs: number
  readonly #hooks: CoherenceHooks
  readonly #report: RemoteReport
  readonly #patterns = new Map<string, (path: string) => unknown>()
  /** Fill locks whose release the open breaker held back. */
  readonly #held: HeldReleases
  /**
   * Invalidations applied here that the tier could not record
   * (`onInvalidationFailure: 'defer'`). While any is pending, entries are
   * neither read from the tier nor written to it: the first calls made to it
   * again are the replay's.
   */
  readonly outbox: InvalidationOutbox
  readonly #replay: OutboxReplay

  constructor(
    tier: RemoteTier,
    options: {
      maxWaitMs: number
      breaker: BreakerOptions
      purgeAll: InvalidationPlan
      /** A deferred invalidation is now recorded in the tier (the CDN purges it then). */
      replayed?: (plan: InvalidationPlan) => void
    },
    hooks: CoherenceHooks,
    report: RemoteReport,
  ) {
    this.tier = tier
    this.#held = new HeldReleases(tier)
    this.outbox = new InvalidationOutbox(options.purgeAll)
    this.#replay = new OutboxReplay(this.outbox, tier, {
      success: (plan) => {
        this.breaker.success()
        options.replayed?.(plan)
      },
      failed: (err) => this.#failed('invalidate', err),
      done: () => this.#held.send(),
    })
    this.#maxWaitMs = options.maxWaitMs
    this.#hooks = hooks
    this.#report = report
    this.breaker = new CircuitBreaker(options.breaker, (state, previous, failures) => {
      report.breaker(state, previous, failures)
      if (state === 'closed') this.#held.send()
    })
  }

  start(): Promise<void> {
    return this.tier.start({
      ...this.#hooks,
      onHealthy: () => {
        this.breaker.probeNow(Date.now())
        // The tier answers again: replay now rather than at the end of the pause.
        this.#replay.now()
      },
    })
  }

  #failed(operation: TierOperation, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    this.breaker.failure(Date.now())
    debug('%s %s failed: %s', this.tier.name, operation, error.message)
    this.#report.error(operation, error)
  }

  async lookup(
    key: string,
    tags: readonly string[],
    path: string,
    options: RemoteLookupOptions,
  ): Promise<RemoteLookup> {
    const { rule, revalidate = false } = options
    const started = Date.now()
    const deadline = started + this.#maxWaitMs
    let pause = POLL_FIRST_MS
    let skipEntry = false
    let stale: StoredResponse | undefined
    /** Origin-driven: a copy past its windows, for a conditional request. */
    let base: StoredResponse | undefined
    /** A refresh: the fresh copy past its refreshAhead point that is to be replaced. */
    let due: StoredResponse | undefined
    for (;;) {
      if (this.outbox.size > 0 || !this.breaker.allow(Date.now()))
        return { kind: 'miss', fence: undefined, stale, base }
      let read: Awaited<ReturnType<RemoteTier['read']>>
      try {
        read = await this.tier.read(key, tags, { lock: options.lock, skipEntry })
        this.breaker.success()
      } catch (err) {
        this.#failed('read', err)
        return { kind: 'miss', fence: undefined, stale, base }
      }
      if (read.kind === 'hit') {
        const response = read.response
        if (!read.patternsSince.some((p) => this.#matches(p, path))) {
          // Only a URI's key holds an index; one anywhere else is ignored.
          if (isVariantIndex(response)) {
            if (primaryKeyOf(key) === key) return { kind: 'index', response }
            skipEntry = true
            continue
          }
          const now = Date.now()
          const staleMs = now - response.staleAt
          // A refresh takes the shared copy only when it is not due for one itself
          // (another process refreshed it already): one past the rule's
          // refreshAhead point is refreshed, under the fill lock.
          if (staleMs < 0) {
            if (!(revalidate && refreshDue(rule, response, now))) return { kind: 'hit', response }
            due = response
          }
          const windows = storedWindows(rule, response.headers)
          if (!revalidate && staleMs < windows.swrMs) return { kind: 'stale', response }
          if (staleMs < windows.sieMs) stale = response
          if (rule.origin) base = response
        }
        // Past its freshness, or a pattern invalidated since it was stored
        // covers this path: read again for a fill's fence.
        skipEntry = true
        continue
      }
      if (read.marker === 'too-large') return { kind: 'bypass', reason: read.marker }
      if (read.lock === 'busy' && revalidate)
        return { kind: 'miss', fence: read.fence, stale, base, busy: true }
      if (due !== undefined && read.lock === 'acquired') {
        // Between the read that found the copy due and this lock, another
        // process may have refreshed it and let the lock go: take its copy.
        const newer = await this.#newerThan(key, tags, path, due)
        if (newer !== undefined) {
          await this.tier
            .abandon(key, read.fence)
            .catch((err: unknown) => this.#failed('abandon', err))
          return { kind: 'hit', response: newer }
        }
      }
      if (read.lock !== 'busy') return { kind: 'miss', fence: read.fence, stale, base }
      // Another process is filling this key: its entry will be in the shared
      // tier soon, unless it is slower than the rule's originTimeout.
      const slowMs = slowLimitMs(rule, stale !== undefined || options.fallback === true)
      const slowIn =
        slowMs === undefined
          ? Number.POSITIVE_INFINITY
          : options.slow === true
            ? 0
            : started + slowMs - Date.now()
      if (slowIn <= 0) return { kind: 'slow', stale, fence: read.fence }
      if (Date.now() + pause > deadline) return { kind: 'miss', fence: read.fence, stale, base }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, slowIn)))
      pause = Math.min(pause * 2, POLL_MAX_MS)
    }
  }

  /** The shared copy of `key` if it is valid and newer than `than`; one read, no lock. */
  async #newerThan(
    key: string,
    tags: readonly string[],
    path: string,
    than: StoredResponse,
  ): Promise<StoredResponse | undefined> {
    try {
      const read = await this.tier.read(key, tags, { lock: false })
      if (read.kind !== 'hit' || read.response.cachedAt <= than.cachedAt) return undefined
      if (isVariantIndex(read.response)) return undefined
      if (read.patternsSince.some((p) => this.#matches(p, path))) return undefined
      return Date.now() < read.response.staleAt ? read.response : undefined
    } catch (err) {
      this.#failed('read', err)
      return undefined
    }
  }

  /**
   * One read without the fill lock and without waiting for another process's
   * fill (`only-if-cached`): a fresh copy, one inside the rule's
   * stale-while-revalidate window, or nothing.
   */
  async peek(
    key: string,
    tags: readonly string[],
    path: string,
    rule: CompiledCacheRule,
  ): Promise<{ kind: 'hit' | 'stale' | 'index'; response: StoredResponse } | undefined> {
    if (this.outbox.size > 0 || !this.breaker.allow(Date.now())) return undefined
    let read: Awaited<ReturnType<RemoteTier['read']>>
    try {
      read = await this.tier.read(key, tags, { lock: false })
      this.breaker.success()
    } catch (err) {
      this.#failed('read', err)
      return undefined
    }
    if (read.kind !== 'hit' || read.patternsSince.some((p) => this.#matches(p, path))) {
      return undefined
    }
    if (isVariantIndex(read.response))
      return primaryKeyOf(key) === key ? { kind: 'index', response: read.response } : undefined
    const staleMs = Date.now() - read.response.staleAt
    if (staleMs < 0) return { kind: 'hit', response: read.response }
    if (staleMs < storedWindows(rule, read.response.headers).swrMs)
      return { kind: 'stale', response: read.response }
    return undefined
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

  /**
   * Stores a fill's entry in the shared tier: true when stored, false when
   * its fence there refused it, `undefined` when the tier failed or the
   * breaker kept the call from being made.
   */
  async write(fill: Fill, entry: CacheEntry, index?: CacheEntry): Promise<boolean | undefined> {
    if (this.outbox.size > 0 || !this.breaker.allow(Date.now())) {
      this.#held.hold(fill)
      return undefined
    }
    const fence = fill.remote as RemoteFence
    try {
      // A variant and its index share the fill's fence (one shard, see
      // variants.ts); the write at the key the fill locked releases its lock.
      const stored = await this.tier.write(entry.key, entry, fence)
      if (index !== undefined && stored) await this.tier.write(index.key, index, fence)
      if (fill.key !== entry.key && (index === undefined || !stored || fill.key !== index.key))
        await this.tier.abandon(fill.key, fence)
      this.breaker.success()
      return stored
    } catch (err) {
      this.#failed('write', err)
      return undefined
    }
  }

  /**
   * Drops the shared copy a fill revalidated and found outdated (a 304
   * naming another entity tag): overwritten, under the fill's fence, with
   * itself expiring at once; the fill's lock goes with the write. Never throws.
   */
  drop(fill: Fill, copy: CacheEntry): void {
    if (!this.breaker.allow(Date.now())) {
      this.#held.hold(fill)
      return
    }
    const expiring = { ...copy, deleteAt: Date.now() + 2 }
    this.tier.write(copy.key, expiring, fill.remote as RemoteFence).then(
      async () => {
        if (fill.key !== copy.key) await this.tier.abandon(fill.key, fill.remote as RemoteFence)
        this.breaker.success()
      },
      (err: unknown) => this.#failed('write', err),
    )
  }

  /** Releases a fill's lock (and records an unstorable response's marker); never throws. */
  abandon(fill: Fill, reason: ResponseBypassReason | undefined): void {
    const marker =
      reason === undefined ? undefined : { reason, ms: Math.min(fill.rule.ttlMs, MARKER_MAX_MS) }
    // With the breaker open nothing is sent: no marker, and the lock is released
    // once the breaker closes (or expires first, after the tier's lockTtl).
    if (!this.breaker.allow(Date.now())) {
      this.#held.hold(fill)
      return
    }
    this.tier.abandon(fill.key, fill.remote as RemoteFence, marker).then(
      () => this.breaker.success(),
      (err: unknown) => this.#failed('abandon', err),
    )
  }

  /**
   * Records an invalidation in the shared tier. Not gated by the breaker (an
   * invalidation is worth its deadline, and it is the best probe there is),
   * but its outcome feeds it. Rejects when the invalidation is not in effect.
   */
  async invalidate(plan: InvalidationPlan): Promise<void> {
    try {
      await this.tier.invalidate(plan)
      this.breaker.success()
    } catch (err) {
      this.#failed('invalidate', err)
      throw err
    }
    this.#replay.now()
  }

  /**
   * Keeps an invalidation the tier could not record (already applied in this
   * process) for the replay, which is retried from `REPLAY_FIRST_MS`, doubling
   * up to `REPLAY_MAX_MS`, and at once when the tier's bus sees it answer.
   */
  defer(plan: InvalidationPlan): void {
    this.outbox.add(plan)
    this.#replay.deferred()
  }

  /** Records the outbox in the tier now (see `OutboxReplay.run`); never rejects. */
  replay(): Promise<void> {
    return this.#replay.run()
  }

  /** Stops the replay's timer; with invalidations pending, makes one last attempt first. */
  async close(): Promise<void> {
    await this.#replay.close()
  }
}
