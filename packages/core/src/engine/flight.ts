import type { CacheEntry } from '../entry/entry'

/**
 * One origin call in progress for a key. Concurrent misses of the key wait on
 * it instead of calling the origin; they get the entry only if the response
 * was stored (so never a private or `Set-Cookie` response), else `undefined`
 * and they go to the origin themselves.
 */
export class Flight {
  waiters = 0
  readonly startedAt = Date.now()
  #settled = false
  /**
   * Waiters with a stale-if-error copy serve it: the leader's origin call
   * failed (5xx or thrown: `error`), or was slower than the rule's
   * `originTimeout` (`timeout`).
   */
  stale: 'error' | 'timeout' | undefined
  #resolve!: (entry: CacheEntry | undefined) => void
  readonly done = new Promise<CacheEntry | undefined>((resolve) => {
    this.#resolve = resolve
  })
  #slow = false
  #wake: (() => void) | undefined
  /** Resolves when the leader's client is answered for (`slowed`). */
  readonly #woken = new Promise<undefined>((resolve) => {
    this.#wake = () => resolve(undefined)
  })

  /**
   * The leader's route is slower than the rule's `originTimeout`, and its
   * client was answered for while the route runs on: waiters with a stale
   * copy serve theirs now, later requests at once.
   */
  slowed(): void {
    this.#slow = true
    this.#wake?.()
  }

  get slow(): boolean {
    return this.#slow
  }

  settle(entry: CacheEntry | undefined, stale?: 'error' | 'timeout'): void {
    if (this.#settled) return
    this.#settled = true
    this.stale = stale
    this.#resolve(entry)
  }

  get settled(): boolean {
    return this.#settled
  }

  /**
   * Waits at most `ms` (with `early`, only until the flight is `slowed`);
   * `undefined` when the wait ran out or nothing was stored.
   */
  wait(ms: number, early = false): Promise<CacheEntry | undefined> {
    this.waiters++
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, ms, undefined)
      timer.unref()
    })
    const until = early ? [this.done, timeout, this.#woken] : [this.done, timeout]
    return Promise.race(until).finally(() => {
      clearTimeout(timer)
      this.waiters--
    })
  }
}
