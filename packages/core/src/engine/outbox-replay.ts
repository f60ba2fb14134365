import { debuglog } from 'node:util'
import type { InvalidationPlan } from '../invalidation/local-state'
import type { InvalidationOutbox } from '../invalidation/outbox'
import type { RemoteTier } from '../tiers/remote-tier'

const debug = debuglog('cachet')

/** Replaying the outbox: first pause after a failed attempt, and the longest. */
export const REPLAY_FIRST_MS = 100
export const REPLAY_MAX_MS = 5000
/** Tags and patterns recorded at most per replayed invalidation (deferred ones are merged). */
const REPLAY_MAX_NAMES = 500

/** What a replay reports to the shared tier's path (remote-path.ts). */
export interface ReplayReport {
  /** The tier recorded a batch (`plan`: what it held, merged). */
  success(plan: InvalidationPlan): void
  /** The tier failed to record one: the replay pauses. */
  failed(err: unknown): void
  /** The outbox is empty. */
  done(): void
}

/**
 * The replay of the invalidations an outbox holds (`onInvalidationFailure:
 * 'defer'`): retried from `REPLAY_FIRST_MS`, doubling up to `REPLAY_MAX_MS`,
 * and at once when the tier answers again. A pending replay never keeps the
 * process alive.
 */
export class OutboxReplay {
  readonly #outbox: InvalidationOutbox
  readonly #tier: RemoteTier
  readonly #report: ReplayReport
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #pauseMs = REPLAY_FIRST_MS
  #closed = false

  constructor(outbox: InvalidationOutbox, tier: RemoteTier, report: ReplayReport) {
    this.#outbox = outbox
    this.#tier = tier
    this.#report = report
  }

  /** The tier answers again: replay now (when something is pending) rather than after the pause. */
  now(): void {
    if (this.#outbox.size > 0 && this.#running === undefined) this.#in(0)
  }

  /** An invalidation was just deferred: a replay is due after the current pause. */
  deferred(): void {
    if (this.#running === undefined && this.#timer === undefined) this.#in(this.#pauseMs)
  }

  #in(ms: number): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.run()
    }, ms)
    // A pending replay never keeps the process alive.
    this.#timer.unref()
  }

  /**
   * Records the outbox in the tier, oldest first (merged in batches); on the
   * first failure, tries again after a pause. Resolves once this attempt is
   * over (the outbox empty, or a failure); never rejects.
   */
  run(): Promise<void> {
    if (this.#running !== undefined) return this.#running
    const run = this.#once()
    this.#running = run
    void run.finally(() => {
      if (this.#running === run) this.#running = undefined
      // Deferred while this attempt was ending: not left without a timer.
      if (this.#outbox.size > 0 && this.#timer === undefined) this.#in(this.#pauseMs)
    })
    return run
  }

  async #once(): Promise<void> {
    for (;;) {
      const batch = this.#outbox.next(REPLAY_MAX_NAMES)
      if (batch === undefined) break
      try {
        await this.#tier.invalidate(batch.plan)
        this.#report.success(batch.plan)
      } catch (err) {
        this.#report.failed(err)
        const pause = this.#pauseMs
        this.#pauseMs = Math.min(pause * 2, REPLAY_MAX_MS)
        this.#in(pause)
        return
      }
      this.#outbox.done(batch.count)
      debug('%s: replayed %d deferred invalidations', this.#tier.name, batch.count)
    }
    this.#pauseMs = REPLAY_FIRST_MS
    this.#report.done()
  }

  /** Stops the timer; with invalidations pending, makes one last attempt first. */
  async close(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#outbox.size > 0) await this.run()
    this.#closed = true
    clearTimeout(this.#timer)
  }
}
