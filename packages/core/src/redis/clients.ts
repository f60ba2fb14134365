import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import { describeValue } from '../errors'
import { withDeadline } from '../tiers/deadline'
import { type RedisClient, type Scripts, withScripts } from './commands'
import { ConnectionWatch } from './connection'
import { check } from './options'

/**
 * Connection settings for the connections cachet opens itself: fail fast, never
 * queue behind a dead Redis. Opened on first use (see `open`): a tier that is
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
 * The tier's two connections: commands (with the scripts), and the bus's
 * subscription, a duplicate of it. Built from the `client` option; a client
 * passed in stays the caller's (never disconnected). The command connection
 * opens on first use (see `open`).
 */
export class RedisClients {
  readonly cmd: RedisClient & Scripts
  readonly sub: RedisClient
  /** The command connection's errors and state, for the engine's log (see `causeOf`). */
  readonly watch: ConnectionWatch
  readonly #ownsClient: boolean
  /** The first use's connection, until it is ready or failed (see `open`). */
  #opening: Promise<void> | undefined
  #opened = false

  constructor(client: unknown) {
    const sentinel = typeof client === 'string' ? sentinelOptions(client) : undefined
    if (typeof client === 'string' && /^rediss?:\/\//.test(client)) {
      this.cmd = withScripts(new Redis(client, COMMAND_CONNECTION))
      this.#ownsClient = true
    } else if (sentinel !== undefined) {
      this.cmd = withScripts(new Redis({ ...COMMAND_CONNECTION, ...sentinel }))
      this.#ownsClient = true
    } else if (typeof client === 'string' && CLUSTER_SEEDS.test(client)) {
      this.cmd = withScripts(new Cluster(clusterSeeds(client), CLUSTER_CONNECTION))
      this.#ownsClient = true
    } else if (client instanceof Redis || client instanceof Cluster) {
      this.cmd = withScripts(client)
      this.#ownsClient = false
    } else {
      check.fail(
        'client',
        `expected a redis:// URL, "host:port,host:port" cluster seeds, a sentinel://host:port/name URL, or an ioredis Redis or Cluster client, got ${describeValue(client)}`,
      )
    }
    this.watch = new ConnectionWatch(this.cmd)
    this.sub =
      this.cmd instanceof Cluster
        ? this.cmd.duplicate([], {
            ...CLUSTER_CONNECTION,
            enableOfflineQueue: true,
            redisOptions: SUBSCRIBER_CONNECTION,
          })
        : this.cmd.duplicate(SUBSCRIBER_CONNECTION)
    this.sub.on('error', () => {})
  }

  /** Whether the first use's connection has settled (ready or failed). */
  get opened(): boolean {
    return this.#opened
  }

  /**
   * The command connection, opened on first use; resolves once it is ready or
   * has failed (then commands fail at once, as during any outage, while
   * ioredis reconnects). Undefined once settled: nothing to wait for.
   */
  open(): Promise<void> | undefined {
    if (this.#opened) return undefined
    if (this.#opening === undefined) {
      // A client passed in connects by itself (unless it is lazy too).
      if (this.cmd.status !== 'wait') {
        this.#opened = true
        return undefined
      }
      this.#opening = this.cmd
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
  async whenOpen(ms: number): Promise<void> {
    const opening = this.open()
    if (opening !== undefined) await withDeadline('connect', ms, opening).catch(() => {})
  }

  /** The subscription, opened when the bus starts (unless it is open or opening). */
  openSubscriber(): void {
    if (this.sub.status === 'wait') this.sub.connect().catch(() => {})
  }

  /** Disconnects the subscription, and the command connection unless it is the caller's. */
  disconnect(): void {
    this.sub.disconnect()
    if (this.#ownsClient) this.cmd.disconnect()
  }
}
