import { randomBytes } from 'node:crypto'
import { withDeadline } from '../tiers/deadline'
import type { TierPrefix } from '../tiers/tier-prefix'
import { primaryKeyOf } from '../tiers/variant-key'
import { RedisBus } from './bus'
import type { RedisClient, Scripts } from './commands'
import { type Keyspace, shardIndex, shardKeyspaces } from './keyspace'

export interface LayoutOptions {
  /** This process on the bus, and in its fill lock tokens. */
  id: string
  /** How many shards (every process of a prefix must agree: see `confirm`). */
  shards: number
  leaseMs: number
  /** The deadline of the bus's commands and of the shard check. */
  commandMs: number
}

/**
 * Where the tier's keys are: the shards' keyspaces under the prefix (the
 * first, the home, also holds the bus, the leases and the top URLs), the bus,
 * and the shard of each entry. Built on first use: the prefix may come from
 * `attach()`.
 */
export class ShardLayout {
  readonly #cmd: RedisClient & Scripts
  readonly #sub: RedisClient
  readonly #prefix: TierPrefix
  readonly #opts: LayoutOptions
  /** Built on first use, once the prefix is known (see #layout). */
  #laidOut: { shards: Keyspace[]; bus: RedisBus } | undefined
  /** With several shards: the home's agreement on their number, checked once (see `confirm`). */
  #shardsConfirmed: Promise<void> | undefined

  constructor(
    cmd: RedisClient & Scripts,
    sub: RedisClient,
    prefix: TierPrefix,
    opts: LayoutOptions,
  ) {
    this.#cmd = cmd
    this.#sub = sub
    this.#prefix = prefix
    this.#opts = opts
  }

  /** The shards' keyspaces; the first is the home (bus, leases, top URLs). */
  get shards(): Keyspace[] {
    return this.#layout().shards
  }

  get home(): Keyspace {
    return this.#layout().shards[0] as Keyspace
  }

  get bus(): RedisBus {
    return this.#layout().bus
  }

  /** The keyspaces and the bus, built on first use: the prefix may come from `attach()`. */
  #layout(): { shards: Keyspace[]; bus: RedisBus } {
    if (this.#laidOut !== undefined) return this.#laidOut
    const shards = shardKeyspaces(this.#prefix.value, this.#opts.shards)
    const bus = new RedisBus(this.#cmd, this.#sub, shards[0] as Keyspace, {
      id: this.#opts.id,
      leaseMs: this.#opts.leaseMs,
      commandMs: this.#opts.commandMs,
      shards: this.#opts.shards,
      newEpoch: () => randomBytes(8).toString('hex'),
      // A new epoch may have been born with another process's shard count:
      // check again before the next read. A refusal at a resync stands.
      onSynced: (epochChanged) => {
        if (epochChanged) this.#shardsConfirmed = undefined
      },
      onRefused: (err) => {
        this.#shardsConfirmed = Promise.reject(err)
        this.#shardsConfirmed.catch(() => {})
      },
    })
    this.#laidOut = { shards, bus }
    return this.#laidOut
  }

  /**
   * With several shards, the home records how many the prefix has; until it
   * has confirmed this process's number, the process reads and writes no
   * shard: one with another number would store entries where the others'
   * invalidations never go. Checked once (a round trip before the first read
   * or invalidation); a refusal (CACHET_SHARDS) is final, any other failure
   * is tried again next time.
   */
  confirm(): Promise<void> {
    if (this.shards.length === 1) return Promise.resolve()
    this.#shardsConfirmed ??= withDeadline(
      'shard check',
      this.#opts.commandMs,
      this.#cmd.cachetCheckShards(
        2,
        this.home.state,
        this.home.patternLog,
        randomBytes(8).toString('hex'),
        this.shards.length,
      ),
    ).then(
      () => {},
      (err: Error) => {
        if (!err.message.startsWith('CACHET_SHARDS')) this.#shardsConfirmed = undefined
        throw err
      },
    )
    return this.#shardsConfirmed
  }

  /** The shard of an entry's key, and the key's hash. */
  locate(key: string): [Keyspace, string] {
    const home = this.home
    const h = home.hash(key)
    if (this.shards.length === 1) return [home, h]
    // A variant lives in its URI's shard: one fence covers it and its index (engine/variants.ts).
    const primary = primaryKeyOf(key)
    const s = primary === key ? h : home.hash(primary)
    return [this.shards[shardIndex(s, this.shards.length)] as Keyspace, h]
  }
}
