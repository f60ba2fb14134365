import { formatBytes, formatMs, table } from './format'
import type { RedisStats } from './redis-stats'
import type { Shards } from './shards'

/** The text `cachet stats` prints: of Redis's shared state, and of one process's admin API. */

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
