import { type RedisKeyspace, shardKeyspaces } from '@cachet/core/redis'
import { Cluster, type Redis } from 'ioredis'
import { redact } from './redis-connection'
import type { Shards } from './shards'

/**
 * Reading a cache's shared state from Redis for `cachet stats --redis`: the
 * home shard's hash (epoch, bus, leases), every shard's tag counter, the
 * entry keys (SCAN) and each master's INFO memory.
 */

/** What `stats --redis` reports (also its `--json` shape). */
export interface RedisStats {
  redis: string
  prefix: string
  /** How many shards the prefix has (the processes' `shards` option). */
  shards: number
  /** `redis`: recorded in Redis; `flag`: --shards, nothing recorded yet; `default`: neither. */
  shardsSource: Shards['source']
  /** Redis's clock (ms since the epoch), which the leases are counted by. */
  now: number
  epoch: string | null
  epochAgeMs: number | null
  busSeq: number
  /** Tag versions issued, summed over the shards (an invalidation issues one per tag in each). */
  tagVersionsIssued: number
  /** Pattern invalidations logged (counted in the home shard; every shard logs each). */
  patternsLogged: number
  patternLogLength: number
  processes: Array<{ id: string; leaseLeftMs: number; renewedAgoMs: number; appliedSeq: number }>
  expiredLeases: number
  /** Entry keys of every shard (`{prefix}:e:*` and `{prefix#N}:e:*`). */
  entries: { count: number; complete: boolean }
  topUrls: number
  memory: { usedBytes: number; peakBytes: number; maxBytes: number; policy: string }
}

const SCAN_BATCH = 1000
/** However many keys there are, the scan stops after this long. */
const SCAN_MAX_MS = 5000

/** Glob characters escaped for SCAN MATCH. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}

/** Regular expression characters escaped. */
function regexEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The entry keys of every shard of `prefix`: `{prefix}:e:<hash>` (the home)
 * and `{prefix#<n>}:e:<hash>`. One glob for SCAN that catches both (and more:
 * `{prefix2}:e:…`, a tag key `{prefix}:t:x}:e:y`), and the exact expression
 * that the keys it finds must match.
 */
export function entryKeyMatch(prefix: string): { glob: string; exact: RegExp } {
  return {
    glob: `{${globEscape(prefix)}*}:e:*`,
    exact: new RegExp(`^\\{${regexEscape(prefix)}(?:#\\d+)?\\}:e:[\\w-]+$`),
  }
}

/** The shared state of `prefix` (every shard), as `stats --redis` reports it. */
export async function redisStats(
  client: Redis | Cluster,
  url: string,
  prefix: string,
  leaseMs: number,
  shards: Shards,
  scanLimit: number,
): Promise<RedisStats> {
  // The home holds the bus, the leases and the top URLs; every shard issues tag versions.
  const [keys, ...others] = shardKeyspaces(prefix, shards.count) as [
    RedisKeyspace,
    ...RedisKeyspace[],
  ]
  const [time, state, plogLength, topUrls, otherVseqs] = await Promise.all([
    client.time(),
    client.hgetall(keys.state),
    client.zcard(keys.patternLog),
    client.zcard(keys.top),
    Promise.all(others.map((k) => client.hget(k.state, 'vseq'))),
  ])
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
  const processes: RedisStats['processes'] = []
  let expiredLeases = 0
  for (const [field, value] of Object.entries(state)) {
    if (!field.startsWith('l:')) continue
    const id = field.slice(2)
    const expires = Number(value)
    if (!(expires > now)) {
      expiredLeases++
      continue
    }
    processes.push({
      id,
      leaseLeftMs: expires - now,
      renewedAgoMs: Math.max(0, now - (expires - leaseMs)),
      appliedSeq: Number(state[`a:${id}`] ?? 0),
    })
  }
  processes.sort((a, b) => (a.id < b.id ? -1 : 1))
  const born = state.born === undefined ? null : Number(state.born)
  const masters: Redis[] = client instanceof Cluster ? client.nodes('master') : [client]
  const entries = await countEntries(masters, entryKeyMatch(prefix), scanLimit)
  const memory = { usedBytes: 0, peakBytes: 0, maxBytes: 0, policy: '' }
  for (const node of masters) {
    const info = parseInfo(await node.info('memory'))
    memory.usedBytes += Number(info.used_memory ?? 0)
    memory.peakBytes += Number(info.used_memory_peak ?? 0)
    memory.maxBytes += Number(info.maxmemory ?? 0)
    memory.policy ||= info.maxmemory_policy ?? ''
  }
  return {
    redis: redact(url),
    prefix,
    shards: shards.count,
    shardsSource: shards.source,
    now,
    epoch: state.epoch ?? null,
    epochAgeMs: born === null ? null : now - born,
    busSeq: Number(state.bseq ?? 0),
    tagVersionsIssued: [state.vseq ?? null, ...otherVseqs].reduce((n, v) => n + Number(v ?? 0), 0),
    patternsLogged: Number(state.pseq ?? 0),
    patternLogLength: plogLength,
    processes,
    expiredLeases,
    entries,
    topUrls,
    memory,
  }
}

/**
 * Counts the keys that `match.glob` finds (SCAN MATCH, COUNT 1000) and that
 * `match.exact` accepts, up to `limit` keys and `SCAN_MAX_MS`.
 */
async function countEntries(
  nodes: readonly Redis[],
  match: { glob: string; exact: RegExp },
  limit: number,
): Promise<{ count: number; complete: boolean }> {
  const until = Date.now() + SCAN_MAX_MS
  let n = 0
  for (const node of nodes) {
    let cursor = '0'
    do {
      if (n >= limit || Date.now() > until) return { count: n, complete: false }
      const [next, found] = await node.scan(cursor, 'MATCH', match.glob, 'COUNT', SCAN_BATCH)
      for (const key of found) if (match.exact.test(key)) n++
      cursor = next
    } while (cursor !== '0')
  }
  return { count: n, complete: true }
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':')
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim()
  }
  return out
}
