import type { RedisClient, Scripts } from './commands'
import type { Keyspace } from './keyspace'

/** Fill locks remembered for release once the connection is back; beyond it, they expire by themselves. */
const MAX_UNRELEASED = 10_000

/**
 * The cross-process fill locks this process took (the read script takes
 * them, the write and abandon scripts release them), and their release when
 * the command that should have released one may not have reached Redis.
 */
export class FillLocks {
  readonly #cmd: RedisClient & Scripts
  readonly #lockMs: number
  /** Fill locks to release once the connection is back (see `release`), by token. */
  readonly #unreleased = new Map<string, { k: Keyspace; h: string; until: number }>()
  readonly #onReady = () => this.#releaseUnreleased(true)
  #retryTimer: NodeJS.Timeout | undefined
  /**
   * Fill locks this process took within the last `lockTtl`, by token (oldest
   * first). A failover can lose their release: between a replica's promotion
   * and the old master's demotion, the old master still accepts the write or
   * abandon that releases a lock, and forgets it when it becomes a replica,
   * while the promoted replica keeps the lock it had copied. So on every
   * reconnect (`ready`) those whose release was sent are released again (not
   * those of fills still running: that would let another process fill too);
   * the token makes it a no-op wherever the lock is gone or somebody else's.
   */
  readonly #taken = new Map<string, { k: Keyspace; h: string; until: number; released: boolean }>()

  constructor(cmd: RedisClient & Scripts, lockMs: number) {
    this.#cmd = cmd
    this.#lockMs = lockMs
    this.#cmd.on('ready', this.#onReady)
  }

  /** A read took the lock of `token` for the entry `h` of shard `k`. */
  taken(k: Keyspace, h: string, token: string): void {
    const now = Date.now()
    for (const [t, { until }] of this.#taken) {
      if (until > now && this.#taken.size < MAX_UNRELEASED) break
      this.#taken.delete(t)
    }
    this.#taken.set(token, { k, h, until: now + this.#lockMs, released: false })
  }

  /** A write or abandon that releases the lock of `token` was sent. */
  released(token: string): void {
    const taken = this.#taken.get(token)
    if (taken !== undefined) taken.released = true
  }

  /**
   * Releases, in the background, a fill lock that this process may hold although
   * no fill of its will release it: the read that took it, or the write or abandon
   * that would have released it, was cut off by a deadline or a lost connection.
   * Otherwise other processes would wait for it (polling, up to `coalesce.maxWait`)
   * until it expires, `lockTtl` after Redis answers again. Sent once the command
   * it follows has answered or failed; when it fails, sent again once the
   * connection is back (`ready`), or every half second (a Cluster's node can fail
   * a command and come back without the client ever emitting `ready`), while the
   * lock could still be alive. The token makes it a no-op for anybody else's lock.
   */
  release(k: Keyspace, h: string, token: string, until = Date.now() + this.#lockMs): void {
    this.released(token)
    this.#cmd.cachetAbandon(2, k.lock(h), k.marker(h), token, '', 0).then(
      () => {},
      () => {
        if (Date.now() >= until) return
        if (this.#unreleased.size >= MAX_UNRELEASED) {
          const oldest = this.#unreleased.keys().next().value
          if (oldest !== undefined) this.#unreleased.delete(oldest)
        }
        this.#unreleased.set(token, { k, h, until })
        if (this.#retryTimer === undefined) {
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = undefined
            this.#releaseUnreleased()
          }, 500)
          this.#retryTimer.unref()
        }
      },
    )
  }

  #releaseUnreleased(reconnected = false): void {
    const now = Date.now()
    const pending = new Map(this.#unreleased)
    this.#unreleased.clear()
    if (reconnected)
      for (const [token, taken] of this.#taken) if (taken.released) pending.set(token, taken)
    for (const [token, { k, h, until }] of pending)
      if (until > now) this.release(k, h, token, until)
  }

  /** Forgets every lock and stops retrying (the tier is closing). */
  close(): void {
    this.#cmd.off('ready', this.#onReady)
    clearTimeout(this.#retryTimer)
    this.#unreleased.clear()
    this.#taken.clear()
  }
}
