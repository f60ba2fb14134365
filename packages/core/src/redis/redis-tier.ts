import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { Cluster, type Redis } from 'ioredis'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import { withDeadline } from '../tiers/deadline'
import type {
  CoherenceHooks,
  RemoteFence,
  RemoteRead,
  RemoteTier,
  StoredResponse,
} from '../tiers/remote-tier'
import { TierPrefix, type TierScope } from '../tiers/tier-prefix'
import { RedisClients } from './clients'
import { RedisEntries } from './entries'
import { FillLocks } from './fill-locks'
import { RedisInvalidations } from './invalidation'
import { ShardLayout } from './layout'
import { type RedisTierOptions, redisSettings } from './options'

export type { RedisTierOptions } from './options'

/** Default shards on a Redis Cluster: spreads evenly over 2, 3, 4 or 6 masters. */
const CLUSTER_SHARDS = 12

/**
 * The Redis shared tier: entries in a binary envelope with their physical
 * TTL (`PX`), tag versions in Redis, fenced writes and cross-process fill
 * locks in Lua, and the invalidation bus with leases and acknowledgements
 * (see `RedisBus`). Each job has its own module: the connections
 * (clients.ts), the shards and the bus (layout.ts), the entries
 * (entries.ts), the fill locks' release (fill-locks.ts), the invalidations
 * (invalidation.ts) and the scripts (scripts.ts).
 */
export class RedisTier implements RemoteTier {
  readonly name = 'redis'
  readonly coherent = true
  /** The prefix: `prefix`, else the namespace of the engine that attached the tier. */
  readonly #prefix: TierPrefix
  readonly #clients: RedisClients
  readonly #locks: FillLocks
  readonly #layout: ShardLayout
  readonly #entries: RedisEntries
  readonly #invalidations: RedisInvalidations
  readonly #writeMs: number

  constructor(options: RedisTierOptions | string | Redis | Cluster) {
    const settings = redisSettings(options)
    this.#prefix = new TierPrefix('redisTier', settings.prefix)
    this.#writeMs = settings.writeMs
    this.#clients = new RedisClients(settings.client)
    const { cmd, sub } = this.#clients
    this.#locks = new FillLocks(cmd, settings.lockMs)
    const id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
    this.#layout = new ShardLayout(cmd, sub, this.#prefix, {
      id,
      shards: settings.shards ?? (cmd instanceof Cluster ? CLUSTER_SHARDS : 1),
      leaseMs: settings.leaseMs,
      commandMs: settings.writeMs,
    })
    this.#entries = new RedisEntries(this.#clients, this.#layout, this.#locks, settings, id)
    this.#invalidations = new RedisInvalidations(this.#clients, this.#layout, settings)
  }

  /** Takes the engine's namespace as the prefix, unless the tier has its own (see `TierPrefix`). */
  attach(scope: TierScope): void {
    this.#prefix.attach(scope)
  }

  /** The prefix of every key and channel of this tier (fixed from the first call on). */
  get prefix(): string {
    return this.#prefix.value
  }

  trusted(): boolean {
    return this.#layout.bus.trusted()
  }

  /** Where the tier connects, without the password (`redis://127.0.0.1:6379`). */
  get location(): string {
    return this.#clients.watch.location
  }

  /** An operation's error in the words of its cause: `ECONNREFUSED 127.0.0.1:6379`, not "Stream isn't writeable". */
  causeOf(error: Error): string {
    return this.#clients.watch.causeOf(error)
  }

  start(hooks: CoherenceHooks): Promise<void> {
    this.#clients.watch.reportTo(hooks.onConnection?.bind(hooks))
    const started = this.#layout.bus.start(hooks)
    void this.#clients.open()
    this.#clients.openSubscriber()
    return started
  }

  read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    return this.#entries.read(key, tags, options)
  }

  write(key: string, response: StoredResponse, remote: RemoteFence): Promise<boolean> {
    return this.#entries.write(key, response, remote)
  }

  seal(response: StoredResponse, fence: RemoteFence): Buffer {
    return this.#entries.seal(response, fence)
  }

  unseal(sealed: Buffer, fence: RemoteFence): StoredResponse | undefined {
    return this.#entries.unseal(sealed, fence)
  }

  abandon(
    key: string,
    remote: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    return this.#entries.abandon(key, remote, marker)
  }

  async invalidate(plan: InvalidationPlan): Promise<void> {
    await this.invalidateWithReport(plan)
  }

  /**
   * `invalidate()`, resolving with the bus sequence and how many processes
   * held a live lease (each applied it or lost its lease). Needs no
   * `start()`: a process that does not join the bus (the CLI) invalidates
   * with the same promise, durable and acknowledged, or it rejects.
   */
  invalidateWithReport(plan: InvalidationPlan): Promise<{ seq: number; processes: number }> {
    return this.#invalidations.invalidate(plan)
  }

  /** Merges this process's top URLs into the shared list (see `TOP_SAVE`). */
  async saveTopUrls(
    urls: ReadonlyArray<{ url: string; count: number }>,
    max: number,
    ttlMs: number,
  ): Promise<void> {
    if (!this.#clients.opened) await this.#clients.whenOpen(this.#writeMs)
    const args: Array<string | number> = [ttlMs, max]
    for (const { url, count } of urls) args.push(count, url)
    await withDeadline(
      'top save',
      this.#writeMs,
      this.#clients.cmd.cachetTopSave(1, this.#layout.home.top, ...args),
    )
  }

  /** The shared list's `max` most requested URLs, most requested first. */
  async loadTopUrls(max: number): Promise<Array<{ url: string; count: number }>> {
    if (max <= 0) return []
    if (!this.#clients.opened) await this.#clients.whenOpen(this.#writeMs)
    const flat = await withDeadline(
      'top load',
      this.#writeMs,
      this.#clients.cmd.zrevrange(this.#layout.home.top, 0, max - 1, 'WITHSCORES'),
    )
    const out: Array<{ url: string; count: number }> = []
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ url: flat[i] as string, count: Number(flat[i + 1]) })
    return out
  }

  async close(): Promise<void> {
    this.#locks.close()
    await this.#layout.bus.close()
    this.#clients.disconnect()
  }
}

/** The Redis shared tier: `store: { l2: redisTier('redis://127.0.0.1:6379') }`. */
export function redisTier(options: RedisTierOptions | string | Redis | Cluster): RedisTier {
  return new RedisTier(options)
}
