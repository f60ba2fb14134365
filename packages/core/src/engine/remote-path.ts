import { debuglog } from 'node:util'
import type { CacheEntry } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import { InvalidationOutbox } from '../invalidation/outbox'
import { compilePath } from '../rules/path-pattern'
import type { CompiledCacheRule } from '../rules/types'
import { type BreakerOptions, type BreakerState, CircuitBreaker } from '../tiers/breaker'
import type { CoherenceHooks, RemoteFence, RemoteTier, StoredResponse } from '../tiers/remote-tier'
import type { TierOperation } from './events'
import type { Fill } from './fill'
import { storedWindows } from './stale-windows'
import type { BypassReason } from './status-headers'
import { isVariantIndex, primaryKeyOf } from './variants'

const debug = debuglog('cachet')

/** Longest a marker for an unstorable response lasts in the shared tier. */
const MARKER_MAX_MS = 120_000
/** Polling a key whose fill lock another process holds: first and longest pause. */
const POLL_FIRST_MS = 5
const POLL_MAX_MS = 50
/** Lock releases held back by an open breaker: at most this many, this old (locks expire anyway). */
const MAX_HELD_RELEASES = 1000
const HELD_RELEASE_MAX_AGE_MS = 60_000
/** Replaying the outbox: first pause after a failed attempt, and the longest. */
export const REPLAY_FIRST_MS = 100
export const REPLAY_MAX_MS = 5000
/** Tags and patterns recorded at most per replayed invalidation (deferred ones are merged). */
const REPLAY_MAX_NAMES = 500

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

export interface RemoteLookupOptions {
  /** Take the cross-process fill lock (this request leads the fill). */
  readonly lock: boolean
  readonly rule: CompiledCacheRule
  /** A background refresh: never answer stale, never wait behind another process's lock. */
  readonly revalidate?: boolean
}

/** What the shared tier's failures and breaker changes are reported to. */
export interface RemoteReport {
  error(operation: TierOperation, error: Error): void
  breaker(state: BreakerState, previous: BreakerState, failures: number): void
}

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
  /** Fill locks whose release the open breaker held back (see #holdRelease). */
  readonly #heldReleases: Array<{ key: string; fence: RemoteFence; at: number }> = []
  /**
   * Invalidations applied here that the tier could not record
   * (`onInvalidationFailure: 'defer'`). While any is pending, entries are
   * neither read from the tier nor written to it: the first calls made to it
   * again are the replay's.
   */
  readonly outbox: InvalidationOutbox
  #replayTimer: NodeJS.Timeout | undefined
  #replaying: Promise<void> | undefined
  #replayPauseMs = REPLAY_FIRST_MS
  #closed = false

  constructor(
    tier: RemoteTier,
    options: { maxWaitMs: number; breaker: BreakerOptions; purgeAll: InvalidationPlan },
    hooks: CoherenceHooks,
    report: RemoteReport,
  ) {
    this.tier = tier
    this.outbox = new InvalidationOutbox(options.purgeAll)
    this.#maxWaitMs = options.maxWaitMs
    this.#hooks = hooks
    this.#report = report
    this.breaker = new CircuitBreaker(options.breaker, (state, previous, failures) => {
      report.breaker(state, previous, failures)
      if (state === 'closed') this.#sendHeldReleases()
    })
  }

  start(): Promise<void> {
    return this.tier.start({
      ...this.#hooks,
      onHealthy: () => {
        this.breaker.probeNow(Date.now())
        // The tier answers again: replay now rather than at the end of the pause.
        if (this.outbox.size > 0 && this.#replaying === undefined) this.#replayIn(0)
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
    const deadline = Date.now() + this.#maxWaitMs
    let pause = POLL_FIRST_MS
    let skipEntry = false
    let stale: StoredResponse | undefined
    /** Origin-driven: a copy past its windows, for a conditional request. */
    let base: StoredResponse | undefined
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
          const staleMs = Date.now() - response.staleAt
          if (staleMs < 0) return { kind: 'hit', response }
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
      if (read.lock !== 'busy' || Date.now() + pause > deadline)
        return { kind: 'miss', fence: read.fence, stale, base }
      // Another process is filling this key: its entry will be in the shared tier soon.
      await new Promise((resolve) => setTimeout(resolve, pause))
      pause = Math.min(pause * 2, POLL_MAX_MS)
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
      this.#holdRelease(fill)
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
      this.#holdRelease(fill)
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
      this.#holdRelease(fill)
      return
    }
    this.tier.abandon(fill.key, fill.remote as RemoteFence, marker).then(
      () => this.breaker.success(),
      (err: unknown) => this.#failed('abandon', err),
    )
  }

  /**
   * A fill whose write or abandon the open breaker kept from the tier may hold
   * the fill lock: left to expire, it would keep other processes waiting for
   * this fill (polling, up to `coalesce.maxWait`) until the tier's `lockTtl`
   * runs out, long after Redis answers again. Released as soon as the breaker
   * closes, in the background (no request waits for it, and the breaker has no
   * say in it).
   */
  #holdRelease(fill: Fill): void {
    const fence = fill.remote as RemoteFence | undefined
    if (fence?.lock !== true) return
    if (this.#heldReleases.length >= MAX_HELD_RELEASES) this.#heldReleases.shift()
    this.#heldReleases.push({ key: fill.key, fence, at: Date.now() })
  }

  #sendHeldReleases(): void {
    const now = Date.now()
    for (const { key, fence, at } of this.#heldReleases.splice(0)) {
      if (now - at < HELD_RELEASE_MAX_AGE_MS) this.tier.abandon(key, fence).catch(() => {})
    }
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
    if (this.outbox.size > 0 && this.#replaying === undefined) this.#replayIn(0)
  }

  /**
   * Keeps an invalidation the tier could not record (already applied in this
   * process) for the replay, which is retried from `REPLAY_FIRST_MS`, doubling
   * up to `REPLAY_MAX_MS`, and at once when the tier's bus sees it answer.
   */
  defer(plan: InvalidationPlan): void {
    this.outbox.add(plan)
    if (this.#replaying === undefined && this.#replayTimer === undefined)
      this.#replayIn(this.#replayPauseMs)
  }

  #replayIn(ms: number): void {
    if (this.#closed) return
    clearTimeout(this.#replayTimer)
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined
      void this.replay()
    }, ms)
    // A pending replay never keeps the process alive.
    this.#replayTimer.unref()
  }

  /**
   * Records the outbox in the tier, oldest first (merged in batches); on the
   * first failure, tries again after a pause. Resolves once this attempt is
   * over (the outbox empty, or a failure); never rejects.
   */
  replay(): Promise<void> {
    if (this.#replaying !== undefined) return this.#replaying
    const run = this.#replayOnce()
    this.#replaying = run
    void run.finally(() => {
      if (this.#replaying === run) this.#replaying = undefined
      // Deferred while this attempt was ending: not left without a timer.
      if (this.outbox.size > 0 && this.#replayTimer === undefined)
        this.#replayIn(this.#replayPauseMs)
    })
    return run
  }

  async #replayOnce(): Promise<void> {
    for (;;) {
      const batch = this.outbox.next(REPLAY_MAX_NAMES)
      if (batch === undefined) break
      try {
        await this.tier.invalidate(batch.plan)
        this.breaker.success()
      } catch (err) {
        this.#failed('invalidate', err)
        const pause = this.#replayPauseMs
        this.#replayPauseMs = Math.min(pause * 2, REPLAY_MAX_MS)
        this.#replayIn(pause)
        return
      }
      this.outbox.done(batch.count)
      debug('%s: replayed %d deferred invalidations', this.tier.name, batch.count)
    }
    this.#replayPauseMs = REPLAY_FIRST_MS
    this.#sendHeldReleases()
  }

  /** Stops the replay's timer; with invalidations pending, makes one last attempt first. */
  async close(): Promise<void> {
    clearTimeout(this.#replayTimer)
    this.#replayTimer = undefined
    if (this.outbox.size > 0) await this.replay()
    this.#closed = true
    clearTimeout(this.#replayTimer)
  }
}
