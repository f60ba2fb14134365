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
  /** The leader's origin call failed (5xx or thrown): waiters with a stale-if-error copy serve it. */
  failed = false
  #resolve!: (entry: CacheEntry | undefined) => void
  readonly done = new Promise<CacheEntry | undefined>((resolve) => {
    this.#resolve = resolve
  })

  settle(entry: CacheEntry | undefined, failed = false): void {
    if (this.#settled) return
    this.#settled = true
    this.failed = failed
    this.#resolve(entry)
  }

  get settled(): boolean {
    return this.#settled
  }

  /** Waits at most `ms`; `undefined` when the wait ran out or nothing was stored. */
  wait(ms: number): Promise<CacheEntry | undefined> {
    this.waiters++
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, ms, undefined)
      timer.unref()
    })
    return Promise.race([this.done, timeout]).finally(() => {
      clearTimeout(timer)
      this.waiters--
    })
  }
}
