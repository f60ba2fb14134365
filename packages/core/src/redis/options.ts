import { Cluster, Redis } from 'ioredis'
import { describeValue } from '../errors'
import { TierOptionChecker } from '../tiers/tier-options'

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

/** The tier's options, checked, in milliseconds (the client is checked when connecting: see `RedisClients`). */
export interface RedisSettings {
  readonly client: unknown
  /** The `prefix` option, if given (else the engine's namespace: see `TierPrefix`). */
  readonly prefix: string | undefined
  /** The `shards` option, if given (else by the kind of client). */
  readonly shards: number | undefined
  readonly leaseMs: number
  readonly lockMs: number
  readonly tagTtlMs: number
  readonly readMs: number
  readonly writeMs: number
  readonly invalidateMs: number
  readonly patternLogSize: number
  /** Replicas an invalidation waits for (`WAIT`), 0 for none. */
  readonly waitReplicas: number
  readonly waitMs: number
}

// Annotated so that `check.fail()` narrows like a `never` call.
export const check: TierOptionChecker = new TierOptionChecker('redisTier')

const KNOWN = [
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

/** `redisTier()`'s argument, checked (a refusal is a `CachetConfigError` naming the option). */
export function redisSettings(options: RedisTierOptions | string | Redis | Cluster): RedisSettings {
  const opts: RedisTierOptions =
    typeof options === 'string' || options instanceof Redis || options instanceof Cluster
      ? { client: options }
      : options
  if (typeof opts !== 'object' || opts === null)
    check.fail('options', `expected an object, got ${describeValue(opts)}`)
  for (const k of Object.keys(opts))
    if (!KNOWN.includes(k)) check.fail(k, `unknown option (expected one of ${KNOWN.join(', ')})`)
  const prefix = opts.prefix === undefined ? undefined : check.prefix(opts.prefix)
  const leaseMs = check.duration('lease', opts.lease, '3s')
  const lockMs = check.duration('lockTtl', opts.lockTtl, '5s')
  const tagTtlMs = check.duration('tagTtl', opts.tagTtl, '1d', false)
  const readMs = check.duration('timeouts.read', opts.timeouts?.read, '50ms')
  const writeMs = check.duration('timeouts.write', opts.timeouts?.write, '1s')
  const invalidateMs = check.duration('timeouts.invalidate', opts.timeouts?.invalidate, '2s')
  const patternLogSize = check.count('patternLogSize', opts.patternLogSize, 10_000)
  if (opts.wait !== undefined && (typeof opts.wait !== 'object' || opts.wait === null))
    check.fail('wait', `expected { replicas, timeout? }, got ${describeValue(opts.wait)}`)
  if (opts.wait !== undefined) check.known(opts.wait, ['replicas', 'timeout'])
  const waitReplicas =
    opts.wait === undefined ? 0 : check.count('wait.replicas', opts.wait.replicas, 1)
  const waitMs = check.duration('wait.timeout', opts.wait?.timeout, '500ms')
  if (opts.shards !== undefined) {
    check.count('shards', opts.shards, 1)
    if (opts.shards > 1024) check.fail('shards', `expected at most 1024, got ${opts.shards}`)
  }
  return {
    client: opts.client,
    prefix,
    shards: opts.shards,
    leaseMs,
    lockMs,
    tagTtlMs,
    readMs,
    writeMs,
    invalidateMs,
    patternLogSize,
    waitReplicas,
    waitMs,
  }
}
