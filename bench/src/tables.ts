import type { BenchData, StampedeResult } from './data'
import { duringRatio, fmt, median, mib, p99, rps } from './figures'
import type { Measurement } from './matrix'
import type { Target } from './targets'

// The report's Markdown tables, one per section.

function range(data: BenchData, id: string): string {
  const xs = (data.samples.get(id) ?? []).map((s) => s.rps)
  if (xs.length < 2) return ''
  return ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`
}

function cell(data: BenchData, id: string, floorId: string | undefined): string[] {
  const samples = data.samples.get(id)
  if (!samples || samples.length === 0) return ['', '', '', '']
  const r = rps(data, id)
  const flags: string[] = []
  if (data.problems.get(id)) flags.push('⚠ probe')
  const errors = samples.reduce((n, s) => n + s.errors + s.non2xx + s.timeouts, 0)
  if (errors > 0) flags.push(`⚠ ${errors} errors`)
  const floor = floorId ? rps(data, floorId) : Number.NaN
  return [
    `${fmt(r)}${range(data, id)}${flags.length ? ` ${flags.join(' ')}` : ''}`,
    Number.isFinite(floor) && floorId !== id
      ? `${(r / floor).toFixed(2)}×`
      : floorId === id
        ? '1.00×'
        : '',
    `${p99(data, id).toFixed(0)} ms`,
    busy(data, id),
  ]
}

function originCalls(data: BenchData, id: string): string {
  const samples = data.samples.get(id) ?? []
  if (samples.length === 0) return ''
  const calls = samples.reduce((n, s) => n + s.originCalls, 0)
  const requests = samples.reduce((n, s) => n + s.ok, 0)
  return `${fmt(calls)} / ${fmt(requests)}`
}

/** Median share of each core that other processes took during a measurement's rounds. */
function otherLoad(data: BenchData, ids: string[]): string {
  const samples = ids.flatMap((id) => data.samples.get(id) ?? []).filter((s) => s.cores)
  if (samples.length === 0) return ''
  const p = (x: number) => `${Math.round(x * 100)}%`
  return `${p(median(samples.map((s) => s.cores?.server ?? 0)))} / ${p(median(samples.map((s) => s.cores?.load ?? 0)))}`
}

/** Median saturation of the measured server (its CPU time over wall time). */
function busy(data: BenchData, id: string): string {
  const samples = (data.samples.get(id) ?? []).filter((s) => s.cores)
  if (samples.length === 0) return ''
  return `${Math.round(median(samples.map((s) => s.cores?.busy ?? 0)) * 100)}%`
}

export function mainTable(data: BenchData): string[] {
  const ids = new Set(data.measurements.map((m) => m.id))
  const rows = new Map<string, Measurement>()
  for (const m of data.measurements) {
    if (m.group === 'scaling') continue
    const key = `${m.group}/${m.kind}`
    if (!rows.has(key)) rows.set(key, m)
  }
  if (rows.size === 0) return []
  const out = [
    '| configuration | 2 KB req/s (min–max) | × floor | p99 | server CPU | 100 KB req/s (min–max) | × floor | p99 | server CPU | origin calls (warm-up + run) / requests measured | other load: server / load core |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const m of rows.values()) {
    const floorOf = (size: string) => {
      const f = `${m.group}/floor/${size}`
      return ids.has(f) ? f : undefined
    }
    const a = cell(data, `${m.group}/${m.kind}/2k`, floorOf('2k'))
    const b = cell(data, `${m.group}/${m.kind}/100k`, floorOf('100k'))
    const calls = [
      originCalls(data, `${m.group}/${m.kind}/2k`),
      originCalls(data, `${m.group}/${m.kind}/100k`),
    ]
      .filter(Boolean)
      .join(' · ')
    const other = otherLoad(data, [`${m.group}/${m.kind}/2k`, `${m.group}/${m.kind}/100k`])
    out.push(`| ${m.label} | ${a.join(' | ')} | ${b.join(' | ')} | ${calls} | ${other} |`)
  }
  return out
}

export function targetsTable(targets: Target[]): string[] {
  if (targets.length === 0) return []
  const out = ['| target | required | measured | |', '| --- | --- | --- | :---: |']
  for (const t of targets)
    out.push(`| ${t.name} | ${t.required} | ${t.measured} | ${t.met ? '✅' : '❌'} |`)
  return out
}

export function stampedeTable(data: BenchData): string[] {
  if (data.stampede.length === 0) return []
  const byApp = new Map<string, StampedeResult[]>()
  for (const r of data.stampede) byApp.set(r.app, [...(byApp.get(r.app) ?? []), r])
  const out = [
    `| configuration | origin calls per trial | 200 OK | responses (last trial) | time to answer all (median) |`,
    '| --- | ---: | ---: | --- | ---: |',
  ]
  for (const [app, rs] of byApp) {
    const last = rs[rs.length - 1] as StampedeResult
    const outcomes = Object.entries(last.outcomes)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')
    out.push(
      `| ${app} | ${rs.map((r) => r.calls).join(', ')} | ${rs.map((r) => r.ok).join(', ')} | ${outcomes} | ${median(rs.map((r) => r.ms)).toFixed(0)} ms |`,
    )
  }
  return out
}

export function scalingTable(data: BenchData): string[] {
  const ms = data.measurements.filter((m) => m.group === 'scaling')
  if (ms.length === 0) return []
  const out = [
    '| configuration | req/s (min–max) | p99 | server CPU | origin calls (warm-up + run) / requests measured | other load: server / load core |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const m of ms) {
    const [r, , p, b] = cell(data, m.id, undefined)
    out.push(
      `| ${m.label} | ${r} | ${p} | ${b} | ${originCalls(data, m.id)} | ${otherLoad(data, [m.id])} |`,
    )
  }
  return out
}

export function invalidationTable(data: BenchData): string[] {
  if (data.invalidation.length === 0) return []
  const ms = (xs: number[]) => (xs.length ? `${median(xs).toFixed(3)} ms` : '')
  const out = [
    "| tier | fill (1k + 100k entries) | first invalidation, tag on 1k entries | first invalidation, tag on 100k entries | median of repeats: 1k / 100k | other keys' hits without | while invalidating every 10 ms | invalidations during load (median, p99) | check |",
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ]
  for (const inv of data.invalidation) {
    const base = median(inv.baseline.map((r) => r.rps))
    const during = median(inv.during.map((r) => r.rps))
    const loops = inv.loops.length
      ? `${inv.loops.map((l) => l.count).join(', ')} (${median(inv.loops.map((l) => l.medianMs)).toFixed(3)} ms, ${median(inv.loops.map((l) => l.p99Ms)).toFixed(3)} ms)`
      : ''
    out.push(
      `| ${inv.backend === 'memory' ? 'memory (L1 only)' : 'Redis (L1 + L2)'} | ${fmt(median(inv.fillMs))} ms | ${ms(inv.firstSmallMs)} | ${ms(inv.firstLargeMs)} | ${inv.repeatedSmall?.toFixed(3)} / ${inv.repeatedLarge?.toFixed(3)} ms (×${inv.repeats}) | ${inv.baseline.length ? `${fmt(base)} req/s` : ''} | ${inv.during.length ? `${fmt(during)} req/s (${duringRatio(inv).toFixed(2)}×)` : ''} | ${loops} | ${inv.verified[0] ?? ''} |`,
    )
  }
  return out
}

export function floodTable(data: BenchData): string[] {
  const f = data.flood
  if (!f || f.length === 0) return []
  const out = [
    '| distinct URLs sent | RSS | V8 heap used | array buffers | L1 bytes | L1 entries | evictions | max L1 bytes seen |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const s of f)
    out.push(
      `| ${fmt(s.urls)} | ${mib(s.rss)} | ${mib(s.heapUsed)} | ${mib(s.arrayBuffers)} | ${mib(s.l1Bytes)} | ${fmt(s.l1Entries)} | ${fmt(s.evictions)} | ${mib(s.maxL1BytesSeen)} |`,
    )
  return out
}
