import type { BenchData, InvalidationResult } from './data'

// Medians of a run's samples and the ratios the targets and tables are made of.

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export function rps(data: BenchData, id: string): number {
  return median((data.samples.get(id) ?? []).map((s) => s.rps))
}

export function p99(data: BenchData, id: string): number {
  return median((data.samples.get(id) ?? []).map((s) => s.p99))
}

/** Below this median server CPU, a measurement is not server-bound. */
export const SATURATED = 0.85

export function serverBusy(data: BenchData, id: string): number | undefined {
  const samples = (data.samples.get(id) ?? []).filter((s) => s.cores)
  return samples.length ? median(samples.map((s) => s.cores?.busy ?? 0)) : undefined
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

/** Median over rounds of: throughput during invalidations / mean of the runs before and after. */
export function duringRatio(inv: InvalidationResult): number {
  return median(
    inv.during.map((d, i) => {
      const before = inv.baseline[i]?.rps ?? Number.NaN
      const after = inv.baseline[i + 1]?.rps ?? before
      return d.rps / ((before + after) / 2)
    }),
  )
}
