import type { RemoteRead, StoredResponse } from '@cachet/core/adapter'
import { RedisKeyspace, type RedisTier, shardIndex } from '@cachet/core/redis'

// Entries written and read through a live Redis tier, as the engine does
// (a locked read, then a fenced write), and the shard each one lands in.

const HOUR = 3_600_000

function stored(key: string, tags: readonly string[]): StoredResponse {
  const now = Date.now()
  return {
    status: 200,
    headers: ['content-type', 'text/plain'],
    body: Buffer.from(`body of ${key}`),
    etag: undefined,
    cachedAt: now,
    staleAt: now + HOUR,
    deleteAt: now + 2 * HOUR,
    tags: [...tags],
    path: `/${key}`,
  }
}

/** Stores an entry for `key` (tagged `tags`) through `tier`. */
export async function putEntry(
  tier: RedisTier,
  key: string,
  tags: readonly string[],
): Promise<void> {
  const read = await tier.read(key, tags, { lock: true })
  if (read.kind !== 'miss') throw new Error(`${key}: expected a miss before the write`)
  if (!(await tier.write(key, stored(key, tags), read.fence)))
    throw new Error(`${key}: the write was fenced out`)
}

/** What `tier` answers for `key` now: `hit` or `miss` (no lock taken). */
export async function lookup(
  tier: RedisTier,
  key: string,
  tags: readonly string[],
): Promise<RemoteRead['kind']> {
  return (await tier.read(key, tags, { lock: false })).kind
}

/** The shard of `key` among `shards`. */
export function shardOf(key: string, shards: number): number {
  return shardIndex(new RedisKeyspace('x').hash(key), shards)
}

/**
 * `count` keys starting with `stem`, spread over shards: the first in the
 * home shard (0), the others each in another shard when there are enough.
 */
export function keysOverShards(stem: string, count: number, shards: number): string[] {
  const out: string[] = []
  const used = new Set<number>()
  for (let i = 0; out.length < count && i < 100_000; i++) {
    const key = `${stem}-${i}`
    const shard = shardOf(key, shards)
    if (out.length === 0 ? shard !== 0 : used.has(shard) && used.size < shards) continue
    used.add(shard)
    out.push(key)
  }
  return out
}
