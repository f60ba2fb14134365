import type { KeyvKeyspace } from './keyspace'
import type { KeyvStore } from './options'

/**
 * The Keyv tier's fill locks: "set if absent" without atomicity, so exact
 * within this process (a local table) and best effort across processes (a
 * set, then a get to check; two processes can both get it).
 */
export class KeyvFillLock {
  readonly #store: KeyvStore
  readonly #keys: () => KeyvKeyspace
  readonly #lockMs: number
  /** Fill locks this process holds or is taking: exact within the process. */
  readonly #locks = new Map<string, { token: string; until: number }>()

  /** `keys`: the tier's keyspace, built once its prefix is known. */
  constructor(store: KeyvStore, keys: () => KeyvKeyspace, lockMs: number) {
    this.#store = store
    this.#keys = keys
    this.#lockMs = lockMs
  }

  /** Set-if-absent without atomicity: exact in this process, best effort across processes. */
  async take(h: string, token: string, seen: unknown): Promise<'acquired' | 'busy' | 'none'> {
    const now = Date.now()
    const local = this.#locks.get(h)
    if ((local !== undefined && local.until > now) || typeof seen === 'string') return 'busy'
    if (this.#locks.size >= 1000)
      for (const [key, l] of this.#locks) if (l.until <= now) this.#locks.delete(key)
    this.#locks.set(h, { token, until: now + this.#lockMs })
    const lockKey = this.#keys().lock(h)
    await this.#store.set(lockKey, token, this.#lockMs)
    const holder = await this.#store.get(lockKey)
    if (holder === token) return 'acquired'
    if (this.#locks.get(h)?.token === token) this.#locks.delete(h)
    // Someone else's token: busy. Nothing readable (a failing store): go on without a lock.
    return typeof holder === 'string' ? 'busy' : 'none'
  }

  /** Releases the lock of `token` (no-op for `''`): checks the token, then deletes, not atomically. */
  async release(h: string, token: string): Promise<void> {
    if (token === '') return
    if (this.#locks.get(h)?.token === token) this.#locks.delete(h)
    const lockKey = this.#keys().lock(h)
    if ((await this.#store.get(lockKey)) === token) await this.#store.delete(lockKey)
  }
}
