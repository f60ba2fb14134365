import type { BenchData } from './data'
import type { ProfileSummary } from './profile'
import { FLOOD_BODY_BYTES, SLOW_ORIGIN_MS } from './shared'
import {
  floodTable,
  invalidationTable,
  mainTable,
  scalingTable,
  stampedeTable,
  targetsTable,
} from './tables'
import { evaluateTargets } from './targets'

// The Markdown report of one run: its sections in order (the tables are in
// tables.ts, the targets in targets.ts, the figures' types in data.ts).

export type {
  BenchData,
  FloodSample,
  InvalidationResult,
  Sample,
  StampedeResult,
} from './data'
export { duringRatio, median } from './figures'
export { evaluateTargets, type Target } from './targets'

export function report(data: BenchData): string {
  const o = data.options
  const m = data.machine
  const targets = evaluateTargets(data)
  const lines: string[] = []
  const section = (title: string, body: string[], intro?: string) => {
    if (body.length === 0) return
    lines.push('', `## ${title}`, '')
    if (intro) lines.push(intro, '')
    lines.push(...body)
  }
  lines.push(
    '# cachet benchmark',
    '',
    `${data.startedAt.toISOString()} · ${o.quick ? '**quick smoke run: the figures mean nothing** · ' : ''}${o.rounds} round(s), configurations alternating within each round · autocannon -c ${o.connections}, ${o.quick ? '1,000 requests' : `${o.warmup} s warm-up then ${o.duration} s measured`} per configuration and round · medians across rounds · whole run ${(data.seconds / 60).toFixed(1)} min`,
  )
  for (const w of data.warnings) lines.push('', `**Warning: ${w}.**`)
  section(
    'Throughput',
    mainTable(data),
    `Requests per second (2xx only), median across rounds; × floor is against the same framework's floor in this run. "Origin calls" counts the route's executions during warm-up and measurement: 0 means every request was a hit. "Server CPU" is the app process's CPU time over the measured run's wall time (with its redis-server for L2 and apicache-Redis): near 100% means the server was the bottleneck, well below means the load generator (or Redis) was. "Other load" is the median share of each core that processes other than the bench's took during the measured run (noise: the machine may be shared); a sample during which they took more than 15% of either core is taken again, twice at most (${data.retakes} retaken in this run), and the least noisy one is kept. ⚠ marks a failed probe or errors.`,
  )
  section(
    'Targets',
    targetsTable(targets),
    'Ratios of medians from this run. A miss is reported with its profile below, not loosened.',
  )
  section(
    'Stampede',
    stampedeTable(data),
    `200 concurrent requests for one cold key, origin takes ${SLOW_ORIGIN_MS} ms; one trial per round, a new key each.`,
  )
  section(
    'Scaling',
    scalingTable(data),
    'Express, 2 KB, L1 hits, one app process per row. Rules: the hit rule is the last of 200. Entries: prefilled through the engine, L1 budget 1 GiB so nothing is evicted; "spread" strides through every key, "one key" asks for /items/7 only (a hot key, the common case).',
  )
  section(
    'Invalidation',
    invalidationTable(data),
    `\`invalidate({ tags })\` timed inside the app process. The tags' entries (64-byte bodies) are filled through the engine (lookup + fill, as an adapter drives a miss), then each tag's first invalidation is timed, then ${data.invalidation[0]?.repeats ?? 0} more of each. Other keys: L1 hits spread over 1,000 other entries (/items/:id, 2 KB) in the same process, while the 100k-entry tag is invalidated every 10 ms, against the mean of the runs without just before and after (median of the rounds' ratios).`,
  )
  section(
    'Memory',
    floodTable(data),
    `Express + cachet, \`store.l1.maxBytes: '64MiB'\`; distinct URLs whose origin returns a fresh ${FLOOD_BODY_BYTES / 1024} KB buffer each, sent in steps, sampled after each step. "Max L1 bytes seen" is read at every origin call.`,
  )
  const missed = targets.filter((t) => !t.met)
  if (missed.length > 0) {
    const body = missed.map((t) => `- ${t.name}: ${t.shortfall ?? t.measured}`)
    section('Missed targets', body)
  }
  if (data.profiles.length > 0 || data.skippedProfiles.length > 0) {
    lines.push(
      '',
      '## Profiles',
      '',
      'The cachet side of each missed target, profiled in a fresh app process under the same load (`node --cpu-prof`; a profiled process runs slower). Self time as a share of the busy (non-idle) time; the full tables are in `profiles/`.',
    )
  }
  for (const p of data.profiles) {
    lines.push('', profileSummaryMarkdown(p.id, p.label, p.summary))
  }
  if (data.skippedProfiles.length > 0)
    lines.push(
      '',
      `Not profiled (no time left in the 15-minute budget): ${data.skippedProfiles.join(', ')}.`,
    )
  const problems = [...data.problems.entries()].filter(([, p]) => p)
  if (problems.length > 0)
    section(
      'Probe failures',
      problems.map(([id, p]) => `- ${id}: ${p}`),
    )
  section('Machine', [
    `- CPU: ${m.cpu}, ${m.cores} cores; ${m.memoryGiB.toFixed(0)} GiB; ${m.kernel}`,
    `- Node ${m.node}; cachet ${m.commit}`,
    `- Pinning: ${m.pinning}`,
    `- Load average (1, 5, 15 min) before: ${m.loadBefore.map((x) => x.toFixed(2)).join(', ')}; after: ${m.loadAfter.map((x) => x.toFixed(2)).join(', ')}`,
    `- Versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ])
  const commands = [
    '```',
    `npm run bench${data.argv.length ? ` -- ${data.argv.join(' ')}` : ''}`,
    '```',
    '',
    'Each app (one process each; the JSON is its configuration):',
    '',
    '```',
    ...[...data.appCommands.entries()].map(([name, cmd]) => `# ${name}\n${cmd}`),
    '```',
  ]
  if (data.loadExample)
    commands.push(
      '',
      `Each measurement (a load generator process: autocannon ${m.versions.autocannon}, programmatic; \`path\` static, or made unique / spread by \`setupRequest\`):`,
      '',
      '```',
      data.loadExample,
      '```',
    )
  section('Commands', commands)
  return `${lines.join('\n')}\n`
}

function profileSummaryMarkdown(id: string, label: string, s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`
  const out = [
    `### Profile: ${id} (${label})`,
    '',
    `\`node --cpu-prof\` on the app process under the same load; share of busy time. Areas: ${s.areas
      .slice(0, 6)
      .map((a) => `${a.area} ${pct(a.share)}`)
      .join(', ')}.`,
    '',
    '| top self time | where | share |',
    '| --- | --- | ---: |',
    ...s.top.slice(0, 10).map((l) => `| \`${l.name}\` | ${l.where} | ${pct(l.share)} |`),
  ]
  if (s.cachetAttributed.length > 0) {
    out.push(
      '',
      `Attributed to cachet (its functions plus the Node internals they call, such as \`writeHead\` and \`end\`; not the framework or route code reached through \`next()\`; GC is nobody's): **${pct(s.cachetShare)}** of busy time: ${s.cachetAttributed
        .slice(0, 5)
        .map(
          (l) =>
            `\`${l.name}\` (${l.where}) ${pct(l.share)}${l.internalMs ? ` (${pct(l.internalMs / s.busyMs)} in Node internals it calls)` : ''}`,
        )
        .join(', ')}.`,
    )
  }
  if (s.cachet.length > 0) {
    out.push(
      '',
      `cachet's own functions (self): ${s.cachet
        .slice(0, 6)
        .map((l) => `\`${l.name}\` (${l.where}) ${pct(l.share)}`)
        .join(', ')}.`,
    )
  }
  return out.join('\n')
}
