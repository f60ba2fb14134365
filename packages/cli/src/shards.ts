import { RedisKeyspace } from '@cachet/core/redis'
import { Cluster, type Redis } from 'ioredis'
import { Failure, MAX_SHARDS } from './args'

/** redisTier's default on a Redis Cluster (1 on one Redis). */
export const CLUSTER_SHARDS = 12

/** How many shards the prefix has, and where the number comes from. */
export interface Shards {
  count: number
  /** `redis`: the home's state records it; `flag`: --shards (nothing recorded yet); `default`: neither. */
  source: 'redis' | 'flag' | 'default'
}

/**
 * The shard count the running processes use: the `shards` field of the home's
 * state hash (`{prefix}:state`), which every process of the prefix agreed to;
 * when nothing is recorded yet (no process has used the prefix), `--shards`,
 * else redisTier's default (1 on one Redis, 12 on a Cluster). A `--shards`
 * that disagrees with the record is refused: an invalidation recorded in the
 * wrong shards would miss entries (and redisTier refuses it anyway).
 */
export async function resolveShards(
  client: Redis | Cluster,
  prefix: string,
  flag: number | undefined,
): Promise<Shards> {
  let raw: string | null
  try {
    raw = await client.hget(new RedisKeyspace(prefix).state, 'shards')
  } catch (err) {
    throw new Failure(`cannot read the shard count from Redis: ${(err as Error).message}`)
  }
  if (raw === null) {
    if (flag !== undefined) return { count: flag, source: 'flag' }
    return { count: client instanceof Cluster ? CLUSTER_SHARDS : 1, source: 'default' }
  }
  const recorded = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!(recorded >= 1 && recorded <= MAX_SHARDS))
    throw new Failure(
      `Redis records an invalid shard count for prefix ${prefix}: "${raw.slice(0, 40)}"`,
    )
  if (flag !== undefined && flag !== recorded)
    throw new Failure(
      `--shards ${flag} disagrees with Redis: prefix ${prefix} is in use with ${recorded} shards (omit --shards, or give --shards ${recorded})`,
    )
  return { count: recorded, source: 'redis' }
}
