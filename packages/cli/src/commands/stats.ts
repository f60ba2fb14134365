import { type RedisKeyspace, shardKeyspaces } from '@cachet/core/redis'
import { Cluster, type Redis } from 'ioredis'
import { adminRequest, refuse } from '../admin-client'
import {
  ADMIN_OPTIONS,
  count,
  duration,
  EXIT_OK,
  type Io,
  type OptionSpec,
  parse,
  REDIS_OPTIONS,
  target,
} from '../args'
import { formatBytes, formatMs, table } from '../format'
import { connectRedis, redact } from '../redis-connection'
import { resolveShards, type Shards } from '../shards'

export const STATS_USAGE = `usage: cachet stats (--redis URL [--namespace NS | --prefix P] [--lease D] [--shards N]
                     | --admin URL (--token T | --token-env VAR)) [--json]

Shows the state of a cache.

  --redis URL        the cluster's shared state in Redis: keyspace epoch, shards, live
                     processes (leases), bus sequence, tag and pattern counters, entry keys
                     of every shard (SCAN), Redis memory (INFO memory). URL: redis://host:port
                     (or rediss://), host:port,host:port (Redis Cluster seeds), or
                     sentinel://host:port[,host:port]/<master name> (Redis Sentinel)
  --namespace NS     the app's namespace option (default cachet): only its keys, processes
                     and bus are counted
  --prefix P         redisTier's prefix option, for an app whose tier sets one (instead of
                     --namespace; giving both, they must agree)
  --lease D          the cluster's lease (default 3s), to tell when a lease was renewed
  --shards N         the shard count to expect (1 to 1024). Default: the count Redis records
                     for the prefix, else 1 on one Redis and 12 on a Cluster; a count that
                     disagrees with Redis's record exits 1
  --scan-limit N     count at most N entry keys (default 100000); SCAN, never KEYS
  --admin URL        one process's admin API (GET /stats): its counters per rule and tier,
                     and its recent invalidations
  --token T | --token-env VAR   the admin API's bearer token
  --json             print JSON instead of text
  --timeout D        give up after D (default 10s)
  -h, --help         this help

Exit: 0 done, 1 failed or unreachable, 2 usage error.
`

const SPEC: OptionSpec = {
  json: { type: 'boolean' },
  'scan-limit': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...REDIS_OPTIONS,
  ...ADMIN_OPTIONS,
}

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

export async function statsCommand(args: readonly string[], io: Io): Promise<number> {
  const p = parse(args, SPEC)
  if (p.flags.help) {
    io.stdout.write(STATS_USAGE)
    return EXIT_OK
  }
  const where = target(p, io, { redis: true })
  const timeoutMs = duration(p, 'timeout', '10s')
  const scanLimit = count(p, 'scan-limit', 0, 100_000_000) ?? 100_000
  if (where.kind === 'admin') {
    const answer = await adminRequest(where.url, where.token, 'GET', '/stats', timeoutMs)
    if (answer.status !== 200) refuse(answer, `${where.url}/stats`)
    io.stdout.write(
      p.flags.json ? `${JSON.stringify(answer.body, null, 2)}\n` : formatAdminStats(answer.body),
    )
    return EXIT_OK
  }
  const client = await connectRedis(where.url)
  try {
    const shards = await resolveShards(client, where.prefix, where.shards)
    const stats = await redisStats(client, where.url, where.prefix, where.lease, shards, scanLimit)
    io.stdout.write(p.flags.json ? `${JSON.stringify(stats, null, 2)}\n` : formatRedisStats(stats))
    return EXIT_OK
  } finally {
    client.disconnect()
  }
}

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

async function redisStats(
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

const SHARDS_SOURCE: Record<Shards['source'], string> = {
  redis: 'recorded in Redis',
  flag: '--shards; none recorded in Redis yet',
  default: 'the default; none recorded in Redis yet',
}

export function formatRedisStats(s: RedisStats): string {
  const rows: string[][] = [
    [
      'redis',
      `${s.redis}, prefix ${s.prefix} (keys {${s.prefix}}:*${s.shards > 1 ? ` and {${s.prefix}#N}:*` : ''})`,
    ],
    ['shards', `${s.shards} (${SHARDS_SOURCE[s.shardsSource]})`],
    [
      'epoch',
      s.epoch === null
        ? 'none yet (no process has used this prefix, or Redis was flushed)'
        : `${s.epoch}, born ${formatMs(s.epochAgeMs ?? 0)} ago`,
    ],
    [
      'processes',
      `${s.processes.length} live${s.expiredLeases > 0 ? `, ${s.expiredLeases} expired lease(s) not yet pruned` : ''}`,
    ],
  ]
  const procs = s.processes.map((p) => [
    p.id,
    `renewed ${formatMs(p.renewedAgoMs)} ago`,
    `lease ${formatMs(p.leaseLeftMs)} left`,
    `applied seq ${p.appliedSeq}`,
  ])
  const after: string[][] = [
    ['bus seq', String(s.busSeq)],
    ['tags', `${s.tagVersionsIssued} versions issued`],
    ['patterns', `${s.patternsLogged} logged, ${s.patternLogLength} in the log`],
    [
      'entries',
      `${s.entries.complete ? '' : '>= '}${s.entries.count} keys${s.shards > 1 ? ` in ${s.shards} shards` : ''}${s.entries.complete ? '' : ' (scan stopped early; see --scan-limit)'}`,
    ],
    ['top urls', `${s.topUrls} saved`],
    [
      'memory',
      `${formatBytes(s.memory.usedBytes)} used, peak ${formatBytes(s.memory.peakBytes)}, maxmemory ${s.memory.maxBytes === 0 ? 'none' : formatBytes(s.memory.maxBytes)} (${s.memory.policy || '?'})`,
    ],
  ]
  // One label column for both parts, the processes listed in between.
  const all = table([...rows, ...after]).split('\n')
  const processes = procs.length > 0 ? `${table(procs, '  ')}\n` : ''
  return `${all.slice(0, rows.length).join('\n')}\n${processes}${all.slice(rows.length).join('\n')}\n`
}

/* ---------------------------------------------------------------- admin */

interface AdminRuleStats {
  name?: string
  hits?: { memory?: number; shared?: number }
  misses?: number
  stale?: { revalidate?: number; error?: number }
  bypasses?: Record<string, number>
  hitRatio?: number
}

/** A readable view of `GET /stats`; tolerant of missing parts. */
export function formatAdminStats(body: unknown): string {
  const b = (body ?? {}) as Record<string, unknown>
  const s = (b.stats ?? b) as Record<string, unknown>
  const lines: string[] = []
  const head: string[][] = []
  if (typeof b.pid === 'number')
    head.push([
      'process',
      `pid ${b.pid}${typeof b.uptimeSeconds === 'number' ? `, up ${formatMs(b.uptimeSeconds * 1000)}` : ''} (counters are this process's own)`,
    ])
  const l1 = s.l1 as
    | { entries?: number; bytes?: number; maxBytes?: number; evictions?: number }
    | undefined
  if (l1 !== undefined && l1 !== null)
    head.push([
      'memory tier',
      `${l1.entries ?? 0} entries, ${formatBytes(l1.bytes ?? 0)} of ${formatBytes(l1.maxBytes ?? 0)}, ${l1.evictions ?? 0} evictions`,
    ])
  else head.push(['memory tier', 'off'])
  const l2 = s.l2 as
    | {
        name?: string
        breaker?: string
        trusted?: boolean
        errors?: Record<string, number>
        timeouts?: number
      }
    | undefined
  if (l2 !== undefined && l2 !== null) {
    const errors = Object.values(l2.errors ?? {}).reduce((a, n) => a + n, 0)
    head.push([
      'shared tier',
      `${l2.name ?? '?'}: breaker ${l2.breaker ?? '?'}, bus ${l2.trusted ? 'healthy' : 'NOT trusted'}, ${errors} errors (${l2.timeouts ?? 0} timeouts)`,
    ])
  } else head.push(['shared tier', 'none'])
  const inv = s.invalidations as { done?: number; failed?: number } | undefined
  if (inv !== undefined)
    head.push(['invalidations', `${inv.done ?? 0} done, ${inv.failed ?? 0} failed`])
  lines.push(table(head))
  const rules = (Array.isArray(s.rules) ? s.rules : []) as AdminRuleStats[]
  if (rules.length > 0) {
    const rows = [['rule', 'hits mem/shared', 'misses', 'stale', 'bypasses', 'hit ratio']]
    for (const r of rules) {
      const bypasses = Object.values(r.bypasses ?? {}).reduce((a, n) => a + n, 0)
      rows.push([
        r.name ?? '?',
        `${r.hits?.memory ?? 0}/${r.hits?.shared ?? 0}`,
        String(r.misses ?? 0),
        String((r.stale?.revalidate ?? 0) + (r.stale?.error ?? 0)),
        String(bypasses),
        `${((r.hitRatio ?? 0) * 100).toFixed(1)}%`,
      ])
    }
    lines.push(table(rows))
  }
  const recent = (Array.isArray(b.recentInvalidations) ? b.recentInvalidations : []) as Array<{
    at?: number
    by?: string
    tags?: string[]
    patterns?: string[]
    users?: string[]
    ok?: boolean
    ms?: number
  }>
  if (recent.length > 0) {
    lines.push('recent invalidations:')
    const rows = recent
      .slice(-10)
      .map((r) => [
        `  ${typeof r.at === 'number' ? new Date(r.at).toISOString() : '?'}`,
        r.by ?? '?',
        [
          ...(r.tags ?? []).map((t) => `tag ${t}`),
          ...(r.patterns ?? []).map((t) => `pattern ${t}`),
          ...(r.users ?? []).map((u) => `user ${u}`),
        ].join(', '),
        `${r.ok === false ? 'FAILED' : 'ok'} ${formatMs(r.ms ?? 0)}`,
      ])
    lines.push(table(rows))
  }
  return `${lines.join('\n')}\n`
}
