import type { InvalidationPlan } from './local-state'

/**
 * Most distinct invalidations an outbox keeps (`onInvalidationFailure:
 * 'defer'`). Past it, they are replaced by one purge-everything.
 */
export const OUTBOX_MAX_ENTRIES = 10_000

/**
 * Invalidations applied in this process but not yet recorded in the shared
 * tier (it could not be reached): replayed, oldest first, before this process
 * reads the shared tier again. Identical plans are kept once. Bounded: when
 * one more distinct plan would pass `max`, the whole outbox becomes a single
 * purge-everything (which covers every entry stored before it is recorded, so
 * it stands for all of them, and for any deferred after it until it is
 * replayed). Memory only: a plan still pending when the process exits is lost.
 */
export class InvalidationOutbox {
  readonly #purgeAll: InvalidationPlan
  readonly #max: number
  readonly #plans = new Map<string, InvalidationPlan>()
  #purging = false
  /** Plans deferred since the start (each call counted). */
  deferred = 0
  /** Plans recorded in the shared tier by a replay. */
  replayed = 0
  /** Times the bound was reached (the outbox became one purge-everything). */
  overflows = 0

  constructor(purgeAll: InvalidationPlan, max = OUTBOX_MAX_ENTRIES) {
    this.#purgeAll = purgeAll
    this.#max = max
  }

  get size(): number {
    return this.#plans.size
  }

  add(plan: InvalidationPlan): void {
    this.deferred++
    if (this.#purging) return
    const id = JSON.stringify([plan.tags, plan.patterns, plan.expire === true])
    if (this.#plans.has(id)) return
    if (this.#plans.size >= this.#max) {
      this.overflows++
      this.#plans.clear()
      this.#purging = true
      this.#plans.set('*', this.#purgeAll)
      return
    }
    this.#plans.set(id, plan)
  }

  /**
   * The oldest plans merged into one (an invalidation of both is one of
   * each), at most `maxNames` tags and patterns but always at least one plan,
   * and only plans of one mode (an expire is never merged into a delete, nor
   * a delete into an expire); `count` of them, to pass to `done` once it is
   * recorded.
   */
  next(maxNames: number): { plan: InvalidationPlan; count: number } | undefined {
    const tags = new Set<string>()
    const patterns = new Set<string>()
    let count = 0
    let expire: boolean | undefined
    for (const plan of this.#plans.values()) {
      if (expire !== undefined && (plan.expire === true) !== expire) break
      if (
        count > 0 &&
        tags.size + patterns.size + plan.tags.length + plan.patterns.length > maxNames
      )
        break
      expire = plan.expire === true
      for (const t of plan.tags) tags.add(t)
      for (const p of plan.patterns) patterns.add(p)
      count++
    }
    if (count === 0) return undefined
    const plan: InvalidationPlan = { tags: [...tags], patterns: [...patterns] }
    return { plan: expire === true ? { ...plan, expire: true } : plan, count }
  }

  /** The `count` oldest plans are recorded in the shared tier. */
  done(count: number): void {
    let n = 0
    for (const id of this.#plans.keys()) {
      if (n++ >= count) break
      this.#plans.delete(id)
    }
    this.replayed += Math.min(count, n)
    if (this.#plans.size === 0) this.#purging = false
  }
}
