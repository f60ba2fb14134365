import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import { primaryKeyOf } from '../engine/variants'
import { CachetInvalidationError, describeValue } from '../errors'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import { DeadlineError, withDeadline } from '../tiers/deadline'
import { decodeEnvelope, encodeEnvelope } from '../tiers/envelope'
import type {
  CoherenceHooks,
  RemoteFence,
  RemoteRead,
  RemoteTier,
  StoredResponse,
} from '../tiers/remote-tier'
import { TierOptionChecker } from '../tiers/tier-options'
import { TierPrefix, type TierScope } from '../tiers/tier-prefix'
import { RedisBus } from './bus'
import { type RedisClient, type Scripts, withScripts } from './commands'
import { ConnectionWatch } from './connection'
import { type Keyspace, shardIndex, shardKeyspaces } from './keyspace'

export interface RedisTierOptions {
  /**
   * A `redis://` URL, a comma-separated list of `host:port` seeds of a Redis
   * Cluster, a `sentinel://host:port[,host:port…]/<master name>` URL of Redis
   * Sentinel, or an ioredis `Redis` or `Cluster` client (cachet duplicates it
   * for its subscription).
   */
  client: string | Redis | Cluster
  /**
   * Into how many shards the keyspace is split, each under its own hash tag
   * (so its own Cluster slot): an entry lives in one, an invalidation is
   * recorded in all. Default 1 on one Redis, 12 on a Cluster. Every process
   * of a prefix must use the same number (a mismatch is refused: CACHET_SHARDS).
   */
  shards?: number
  /**
   * Replicas that must acknowledge an invalidation (Redis `WAIT`) before it is
   * reported done, so that a failover to a replica cannot lose it; `timeout`
   * bounds each wait (default 500 ms). Off (0) by default.
   */
  wait?: { replicas: number; timeout?: number | string }
  /**
   * Prefix of every key and channel (entries, tag versions, the bus, leases,
   * locks, top URLs). Default: the cache's `namespace`, itself `'cachet'` by
   * default. Give it only to keep a layout that differs from the namespace;
   * a different explicit `namespace` is refused.
   */
  prefix?: string
  /** How long a process's lease lasts; renewed every third of it. Default `'3s'`. */
  lease?: number | string
  /** Lifetime of the cross-process fill lock. Default `'5s'`. */
  lockTtl?: number | string
  /** Lifetime of a tag's version record (extended to outlive every entry carrying it). Default `'1d'`. */
  tagTtl?: number | string
  /** Deadlines: `read` (a lookup, default 50 ms), `write` (default 1 s), `invalidate` (default 2 s). */
  timeouts?: { read?: number | string; write?: number | string; invalidate?: number | string }
  /** Pattern invalidations kept in Redis; entries older than the oldest are misses. Default 10000. */
  patternLogSize?: number
}

interface RedisFence extends RemoteFence {
  readonly token: string
  readonly tags: readonly string[]
  readonly versions: readonly string[]
  readonly patternSeq: string
  /** The keyspace epoch the fence belongs to. */
  readonly epoch: string
}

/** Errors no retry can fix. */
const PERMANENT = /^(CACHET_|NOSCRIPT|WRONGTYPE|NOPERM|WRONGPASS)/
/** Default shards on a Redis Cluster: spreads evenly over 2, 3, 4 or 6 masters. */
const CLUSTER_SHARDS = 12

// Annotated so that `check.fail()` narrows like a `never` call.
const check: TierOptionChecker = new TierOptionChecker('redisTier')

/**
 * Connection settings for the connections cachet opens itself: fail fast, never
 * queue behind a dead Redis. Opened on first use (see #open): a tier that is
 * built and never used holds no socket and no timer, so it never keeps the
 * process alive.
 */
const COMMAND_CONNECTION: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(50 * times, 1000),
}
const SUBSCRIBER_CONNECTION: RedisOptions = {
  lazyConnect: true,
  autoResubscribe: false,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(50 * times, 1000),
}

/** Fill locks remembered for release once the connection is back; beyond it, they expire by themselves. */
const MAX_UNRELEASED = 10_000

const CLUSTER_SEEDS = /^[^\s,:/]+:\d+(,[^\s,:/]+:\d+)*$/
const SENTINEL_URL = /^sentinel:\/\/(?:([^@/]*)@)?([^\s/@]+)\/([^\s/?]+)(?:\?(.*))?$/
const CLUSTER_CONNECTION: ClusterOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRedirections: 4,
  clusterRetryStrategy: (times) => Math.min(50 * times, 1000),
  redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 0 },
}

function clusterSeeds(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map((seed) => {
    const i = seed.lastIndexOf(':')
    return { host: seed.slice(0, i), port: Number(seed.slice(i + 1)) }
  })
}

/**
 * `sentinel://[[user]:password@]host:port[,host:port…]/<master name>[?db=N]`:
 * ioredis options that find the master through the sentinels, and reconnect
 * (asking them again) when a demoted master answers READONLY.
 */
export function sentinelOptions(url: string): RedisOptions | undefined {
  const m = SENTINEL_URL.exec(url)
  if (m === null) return undefined
  const [, auth, hosts, name, query] = m as unknown as [
    string,
    string | undefined,
    string,
    string,
    string | undefined,
  ]
  if (!CLUSTER_SEEDS.test(hosts)) return undefined
  const options: RedisOptions = {
    sentinels: clusterSeeds(hosts),
    name: decodeURIComponent(name),
    role: 'master',
    failoverDetector: true,
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  }
  if (auth !== undefined) {
    const i = auth.indexOf(':')
    if (i < 0) return undefined
    if (i > 0) options.username = decodeURIComponent(auth.slice(0, i))
    options.password = decodeURIComponent(auth.slice(i + 1))
  }
  const db = new URLSearchParams(query ?? '').get('db')
  if (db !== null) {
    if (!/^\d+$/.test(db)) return undefined
    options.db = Number(db)
  }
  return options
}

/**
 * The Redis shared tier: entries in a binary envelope with their physical
 * TTL (`PX`), tag versions in Redis, fenced writes and cross-process fill
 * locks in Lua, and the invalidation bus with leases and acknowledgements
 * (see `RedisBus`).
 */
export class RedisTier implements RemoteTier {
  readonly name = 'redis'
  readonly coherent = true
  readonly #cmd: RedisClient & Scripts
  readonly #sub: RedisClient
  readonly #ownsClient: boolean
  /** The prefix: `prefix`, else the namespace of the engine that attached the tier. */
  readonly #prefix: TierPrefix
  readonly #shardCount: number
  /** Built on first use, once the prefix is known (see #layout). */
  #laidOut: { shards: Keyspace[]; bus: RedisBus } | undefined
  readonly #waitReplicas: number
  /** With several shards: the home's agreement on their number, checked once (see #confirmShards). */
  #shardsConfirmed: Promise<void> | undefined
  readonly #waitMs: number
  readonly #id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
  readonly #leaseMs: number
  readonly #lockMs: number
  readonly #tagTtlMs: number
  readonly #readMs: number
  readonly #writeMs: number
  readonly #invalidateMs: number
  readonly #patternLogSize: number
  #tokens = 0
  /** Fill locks to release once the connection is back (see #release), by token. */
  readonly #unreleased = new Map<string, { k: Keyspace; h: string; until: number }>()
  readonly #onReady = () => this.#releaseUnreleased(true)
  /** The command connection's errors and state, for the engine's log (see `causeOf`). */
  readonly #watch: ConnectionWatch
  /** The first use's connection, until it is ready or failed (see #open). */
  #opening: Promise<void> | undefined
  #opened = false
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

  constructor(options: RedisTierOptions | string | Redis | Cluster) {
    const opts: RedisTierOptions =
      typeof options === 'string' || options instanceof Redis || options instanceof Cluster
        ? { client: options }
        : options
    if (typeof opts !== 'object' || opts === null)
      check.fail('options', `expected an object, got ${describeValue(opts)}`)
    const known = [
      'client',
      'prefix',
      'lease',
      'lockTtl',
      'tagTtl',
      'timeouts',
      'patternLogSize',
      'shards',
      'wait',
    ]
    for (const k of Object.keys(opts))
      if (!known.includes(k)) check.fail(k, `unknown option (expected one of ${known.join(', ')})`)
    this.#prefix = new TierPrefix(
      'redisTier',
      opts.prefix === undefined ? undefined : check.prefix(opts.prefix),
    )
    this.#leaseMs = check.duration('lease', opts.lease, '3s')
    this.#lockMs = check.duration('lockTtl', opts.lockTtl, '5s')
    this.#tagTtlMs = check.duration('tagTtl', opts.tagTtl, '1d', false)
    this.#readMs = check.duration('timeouts.read', opts.timeouts?.read, '50ms')
    this.#writeMs = check.duration('timeouts.write', opts.timeouts?.write, '1s')
    this.#invalidateMs = check.duration('timeouts.invalidate', opts.timeouts?.invalidate, '2s')
    this.#patternLogSize = check.count('patternLogSize', opts.patternLogSize, 10_000)
    if (opts.wait !== undefined && (typeof opts.wait !== 'object' || opts.wait === null))
      check.fail('wait', `expected { replicas, timeout? }, got ${describeValue(opts.wait)}`)
    if (opts.wait !== undefined) check.known(opts.wait, ['replicas', 'timeout'])
    this.#waitReplicas =
      opts.wait === undefined ? 0 : check.count('wait.replicas', opts.wait.replicas, 1)
    this.#waitMs = check.duration('wait.timeout', opts.wait?.timeout, '500ms')
    if (opts.shards !== undefined) {
      check.count('shards', opts.shards, 1)
      if (opts.shards > 1024) check.fail('shards', `expected at most 1024, got ${opts.shards}`)
    }
    const client = opts.client
    const sentinel = typeof client === 'string' ? sentinelOptions(client) : undefined
    if (typeof client === 'string' && /^rediss?:\/\//.test(client)) {
      this.#cmd = withScripts(new Redis(client, COMMAND_CONNECTION))
      this.#ownsClient = true
    } else if (sentinel !== undefined) {
      this.#cmd = withScripts(new Redis({ ...COMMAND_CONNECTION, ...sentinel }))
      this.#ownsClient = true
    } else if (typeof client === 'string' && CLUSTER_SEEDS.test(client)) {
      this.#cmd = withScripts(new Cluster(clusterSeeds(client), CLUSTER_CONNECTION))
      this.#ownsClient = true
    } else if (client instanceof Redis || client instanceof Cluster) {
      this.#cmd = withScripts(client)
      this.#ownsClient = false
    } else {
      check.fail(
        'client',
        `expected a redis:// URL, "host:port,host:port" cluster seeds, a sentinel://host:port/name URL, or an ioredis Redis or Cluster client, got ${describeValue(client)}`,
      )
    }
    this.#watch = new ConnectionWatch(this.#cmd)
    this.#cmd.on('ready', this.#onReady)
    this.#sub =
      this.#cmd instanceof Cluster
        ? this.#cmd.duplicate([], {
            ...CLUSTER_CONNECTION,
            enableOfflineQueue: true,
            redisOptions: SUBSCRIBER_CONNECTION,
          })
        : this.#cmd.duplicate(SUBSCRIBER_CONNECTION)
    this.#sub.on('error', () => {})
    this.#shardCount = opts.shards ?? (this.#cmd instanceof Cluster ? CLUSTER_SHARDS : 1)
  }

  /** Takes the engine's namespace as the prefix, unless the tier has its own (see `TierPrefix`). */
  attach(scope: TierScope): void {
    this.#prefix.attach(scope)
  }

  /** The prefix of every key and channel of this tier (fixed from the first call on). */
  get prefix(): string {
    return this.#prefix.value
  }

  /** The shards' keyspaces; the first is the home (bus, leases, top URLs). */
  get #shards(): Keyspace[] {
    return this.#layout().shards
  }

  get #home(): Keyspace {
    return this.#layout().shards[0] as Keyspace
  }

  get #bus(): RedisBus {
    return this.#layout().bus
  }

  /** The keyspaces and the bus, built on first use: the prefix may come from `attach()`. */
  #layout(): { shards: Keyspace[]; bus: RedisBus } {
    if (this.#laidOut !== undefined) return this.#laidOut
    const shards = shardKeyspaces(this.#prefix.value, this.#shardCount)
    const bus = new RedisBus(this.#cmd, this.#sub, shards[0] as Keyspace, {
      id: this.#id,
      leaseMs: this.#leaseMs,
      commandMs: this.#writeMs,
      shards: this.#shardCount,
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

  trusted(): boolean {
    return this.#bus.trusted()
  }

  /** Where the tier connects, without the password (`redis://127.0.0.1:6379`). */
  get location(): string {
    return this.#watch.location
  }

  /** An operation's error in the words of its cause: `ECONNREFUSED 127.0.0.1:6379`, not "Stream isn't writeable". */
  causeOf(error: Error): string {
    return this.#watch.causeOf(error)
  }

  start(hooks: CoherenceHooks): Promise<void> {
    this.#watch.reportTo(hooks.onConnection?.bind(hooks))
    const started = this.#bus.start(hooks)
    void this.#open()
    if (this.#sub.status === 'wait') this.#sub.connect().catch(() => {})
    return started
  }

  /**
   * The command connection, opened on first use; resolves once it is ready or
   * has failed (then commands fail at once, as during any outage, while
   * ioredis reconnects). Undefined once settled: nothing to wait for.
   */
  #open(): Promise<void> | undefined {
    if (this.#opened) return undefined
    if (this.#opening === undefined) {
      // A client passed in connects by itself (unless it is lazy too).
      if (this.#cmd.status !== 'wait') {
        this.#opened = true
        return undefined
      }
      this.#opening = this.#cmd
        .connect()
        .then(
          () => {},
          () => {},
        )
        .finally(() => {
          this.#opened = true
          this.#opening = undefined
        })
    }
    return this.#opening
  }

  /** Waits, within `ms`, for the connection a first use opens. */
  async #whenOpen(ms: number): Promise<void> {
    const opening = this.#open()
    if (opening !== undefined) await withDeadline('connect', ms, opening).catch(() => {})
  }

  async read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    if (!this.#opened) await this.#whenOpen(this.#readMs)
    // Under the read's deadline (the check goes on in the background).
    if (this.#shards.length > 1) await withDeadline('read', this.#readMs, this.#confirmShards())
    const [k, h] = this.#locate(key)
    const token = options.lock ? `${this.#id}:${++this.#tokens}` : ''
    const reading = this.#cmd.cachetReadBuffer(
      5 + tags.length,
      k.entry(h),
      k.lock(h),
      k.marker(h),
      k.state,
      k.patternLog,
      ...tags.map((t) => k.tag(t)),
      options.skipEntry ? '1' : '0',
      token,
      this.#lockMs,
      this.#tagTtlMs,
      randomBytes(8).toString('hex'),
      this.#shards.length,
      ...tags,
    )
    let reply: Buffer[]
    try {
      reply = await withDeadline('read', this.#readMs, reading)
    } catch (err) {
      // The read may run in Redis all the same (its reply late, or lost) and
      // take the fill lock for a fill that no longer counts on it. The release
      // goes once the read has answered or failed, never before it: on a
      // Cluster, a read redirected (MOVED, a slot refresh) can reach Redis
      // after a command sent later.
      if (token !== '') {
        const release = () => this.#release(k, h, token)
        reading.then(release, release)
      }
      throw err
    }
    if (String(reply[0]) === 'hit') {
      const response = decodeEnvelope(reply[1] as Buffer)
      if (response !== undefined) {
        return { kind: 'hit', response, patternsSince: reply.slice(2).map(String) }
      }
      // Readable to Lua but not to this version: corrupt. Delete, then miss.
      await withDeadline('delete', this.#writeMs, this.#cmd.del(k.entry(h))).catch(() => {})
      return this.read(key, tags, { ...options, skipEntry: true })
    }
    const lock = String(reply[1]) as 'acquired' | 'busy' | 'none'
    if (lock === 'acquired') this.#remember(k, h, token)
    const marker = String(reply[2])
    const fence: RedisFence = {
      lock: lock === 'acquired',
      token: lock === 'acquired' ? token : '',
      tags,
      versions: reply.slice(5).map(String),
      patternSeq: String(reply[3]),
      epoch: String(reply[4]),
    }
    return marker === ''
      ? { kind: 'miss', fence, lock }
      : { kind: 'miss', fence, lock, marker: marker as ResponseBypassReason }
  }

  async write(key: string, response: StoredResponse, remote: RemoteFence): Promise<boolean> {
    const fence = remote as RedisFence
    const px = response.deleteAt - Date.now()
    if (px <= 0) {
      // Already expired: nothing to store, but the fill lock must go.
      await this.abandon(key, remote)
      return false
    }
    const [k, h] = this.#locate(key)
    const envelope = encodeEnvelope(response, fence.versions, Number(fence.patternSeq), fence.epoch)
    this.#released(fence.token)
    const writing = withDeadline(
      'write',
      this.#writeMs,
      this.#cmd.cachetWrite(
        4 + fence.tags.length,
        k.entry(h),
        k.lock(h),
        k.state,
        k.marker(h),
        ...fence.tags.map((t) => k.tag(t)),
        envelope,
        px,
        fence.token,
        fence.patternSeq,
        this.#tagTtlMs,
        fence.epoch,
        ...fence.versions,
      ),
    )
    // The write releases the lock; if it failed, it may not have.
    if (fence.token !== '') writing.catch(() => this.#release(k, h, fence.token))
    return (await writing) === 1
  }

  async abandon(
    key: string,
    remote: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    const fence = remote as RedisFence
    if (fence.token === '' && marker === undefined) return
    const [k, h] = this.#locate(key)
    this.#released(fence.token)
    const abandoning = withDeadline(
      'abandon',
      this.#writeMs,
      this.#cmd.cachetAbandon(
        2,
        k.lock(h),
        k.marker(h),
        fence.token,
        marker?.reason ?? '',
        marker?.ms ?? 0,
      ),
    )
    if (fence.token !== '') abandoning.catch(() => this.#release(k, h, fence.token))
    await abandoning
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
  #release(k: Keyspace, h: string, token: string, until = Date.now() + this.#lockMs): void {
    this.#released(token)
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
      if (until > now) this.#release(k, h, token, until)
  }

  /** A write or abandon that releases the lock of `token` was sent. */
  #released(token: string): void {
    const taken = this.#taken.get(token)
    if (taken !== undefined) taken.released = true
  }

  #remember(k: Keyspace, h: string, token: string): void {
    const now = Date.now()
    for (const [t, { until }] of this.#taken) {
      if (until > now && this.#taken.size < MAX_UNRELEASED) break
      this.#taken.delete(t)
    }
    this.#taken.set(token, { k, h, until: now + this.#lockMs, released: false })
  }

  /**
   * With several shards, the home records how many the prefix has; until it
   * has confirmed this process's number, the process reads and writes no
   * shard: one with another number would store entries where the others'
   * invalidations never go. Checked once (a round trip before the first read
   * or invalidation); a refusal (CACHET_SHARDS) is final, any other failure
   * is tried again next time.
   */
  #confirmShards(): Promise<void> {
    if (this.#shards.length === 1) return Promise.resolve()
    this.#shardsConfirmed ??= withDeadline(
      'shard check',
      this.#writeMs,
      this.#cmd.cachetCheckShards(
        2,
        this.#home.state,
        this.#home.patternLog,
        randomBytes(8).toString('hex'),
        this.#shards.length,
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
  #locate(key: string): [Keyspace, string] {
    const home = this.#home as Keyspace
    const h = home.hash(key)
    if (this.#shards.length === 1) return [home, h]
    // A variant lives in its URI's shard: one fence covers it and its index (variants.ts).
    const primary = primaryKeyOf(key)
    const s = primary === key ? h : home.hash(primary)
    return [this.#shards[shardIndex(s, this.#shards.length)] as Keyspace, h]
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
  async invalidateWithReport(plan: InvalidationPlan): Promise<{ seq: number; processes: number }> {
    const until = Date.now() + this.#invalidateMs
    const payload = JSON.stringify({ tags: plan.tags, patterns: plan.patterns })
    let reply: Array<number | string>
    try {
      if (!this.#opened) await this.#whenOpen(this.#invalidateMs)
      await this.#confirmShards()
      // Every other shard first: once the bus carries the invalidation, a
      // process that drops its memory copy must find no valid entry in any
      // shard to refill it from.
      await Promise.all(
        this.#shards.slice(1).map((k) => this.#record(k, plan, false, payload, until)),
      )
      reply = await this.#record(this.#home, plan, true, payload, until)
    } catch (err) {
      throw new CachetInvalidationError(
        'CACHET_INVALIDATION_FAILED',
        `invalidate(): could not record the invalidation in Redis (${this.location}): ${this.causeOf(err as Error)}`,
        { cause: err },
      )
    }
    const [seq, waitMs, epoch, ...live] = reply
    await this.#bus.waitApplied(Number(seq), String(epoch), live.map(String), Number(waitMs))
    return { seq: Number(seq), processes: live.length }
  }

  /**
   * Records an invalidation in one shard (the home also publishes it on the
   * bus). A failover, a resharding or a reconnect fails a command for a moment
   * (CLUSTERDOWN, TRYAGAIN, MOVED beyond the redirections, a closed
   * connection): the script is sent again until `until`. Running it twice is
   * harmless: versions only move forward, a pattern logged twice matches the
   * same keys, and a message published twice is applied twice.
   */
  async #record(
    k: Keyspace,
    plan: InvalidationPlan,
    publish: boolean,
    payload: string,
    until: number,
  ): Promise<Array<number | string>> {
    let backoff = 25
    /** The last failure that was not the deadline: what to report when the deadline ends the retries. */
    let reason: Error | undefined
    for (;;) {
      try {
        return await withDeadline(
          'invalidate',
          Math.max(1, until - Date.now()),
          this.#recordOnce(k, plan, publish, payload),
        )
      } catch (err) {
        const error = err as Error
        if (PERMANENT.test(error.message)) throw error
        if (!(error instanceof DeadlineError)) reason = error
        if (until - Date.now() <= backoff) throw reason ?? error
        await new Promise((resolve) => setTimeout(resolve, backoff))
        backoff = Math.min(backoff * 2, 200)
      }
    }
  }

  async #recordOnce(
    k: Keyspace,
    plan: InvalidationPlan,
    publish: boolean,
    payload: string,
  ): Promise<Array<number | string>> {
    const args: Array<string | number> = [
      2 + plan.tags.length,
      k.state,
      k.patternLog,
      ...plan.tags.map((t) => k.tag(t)),
      publish ? k.channel : '',
      randomBytes(8).toString('hex'),
      this.#tagTtlMs,
      this.#patternLogSize,
      payload,
      this.#leaseMs,
      this.#shards.length,
      ...plan.patterns,
    ]
    const [numKeys, ...rest] = args as [number, ...Array<string | number>]
    if (this.#waitReplicas === 0) return this.#cmd.cachetInvalidate(numKeys, ...rest)
    // WAIT on the same connection, right behind the script: it returns once
    // that many replicas have everything this connection wrote.
    const pipeline = this.#cmd.pipeline() as unknown as Scripts & {
      wait(replicas: number, ms: number): unknown
      exec(): Promise<Array<[Error | null, unknown]> | null>
    }
    pipeline.cachetInvalidate(numKeys, ...rest)
    pipeline.wait(this.#waitReplicas, this.#waitMs)
    const results = await pipeline.exec()
    const [recorded, waited] = results ?? []
    if (recorded === undefined || waited === undefined)
      throw new Error('the pipeline was discarded')
    if (recorded[0] !== null) throw recorded[0]
    if (waited[0] !== null) throw waited[0]
    if (Number(waited[1]) < this.#waitReplicas) {
      throw new Error(
        `WAIT: ${Number(waited[1])} of ${this.#waitReplicas} replica(s) acknowledged within ${this.#waitMs} ms`,
      )
    }
    return recorded[1] as Array<number | string>
  }

  /** Merges this process's top URLs into the shared list (see `TOP_SAVE`). */
  async saveTopUrls(
    urls: ReadonlyArray<{ url: string; count: number }>,
    max: number,
    ttlMs: number,
  ): Promise<void> {
    if (!this.#opened) await this.#whenOpen(this.#writeMs)
    const args: Array<string | number> = [ttlMs, max]
    for (const { url, count } of urls) args.push(count, url)
    await withDeadline(
      'top save',
      this.#writeMs,
      this.#cmd.cachetTopSave(1, this.#home.top, ...args),
    )
  }

  /** The shared list's `max` most requested URLs, most requested first. */
  async loadTopUrls(max: number): Promise<Array<{ url: string; count: number }>> {
    if (max <= 0) return []
    if (!this.#opened) await this.#whenOpen(this.#writeMs)
    const flat = await withDeadline(
      'top load',
      this.#writeMs,
      this.#cmd.zrevrange(this.#home.top, 0, max - 1, 'WITHSCORES'),
    )
    const out: Array<{ url: string; count: number }> = []
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ url: flat[i] as string, count: Number(flat[i + 1]) })
    return out
  }

  async close(): Promise<void> {
    this.#cmd.off('ready', this.#onReady)
    clearTimeout(this.#retryTimer)
    this.#unreleased.clear()
    this.#taken.clear()
    await this.#bus.close()
    this.#sub.disconnect()
    if (this.#ownsClient) this.#cmd.disconnect()
  }
}

/** The Redis shared tier: `store: { l2: redisTier('redis://127.0.0.1:6379') }`. */
export function redisTier(options: RedisTierOptions | string | Redis | Cluster): RedisTier {
  return new RedisTier(options)
}
