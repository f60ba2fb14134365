import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'

// How busy the cores were, and with whose work: /proc/stat for each core,
// /proc/<pid>/stat for the bench's own processes (Linux; elsewhere nothing).

const CLK_TCK = (() => {
  try {
    const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout)
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** Busy time of one core since boot (ms); undefined off Linux. */
export function coreBusyMs(cpu: string): number | undefined {
  try {
    const line = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `))
    if (!line) return undefined
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal
    const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)
    return (busy * 1000) / CLK_TCK
  } catch {
    return undefined
  }
}

/** CPU time a process used since it started (ms); 0 when unknown. */
export function processCpuMs(pid: number): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15: the 12th and 13th after the name.
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK
  } catch {
    return 0
  }
}

export interface CoreShares {
  /** Share of the server core that processes other than the bench's took. */
  server: number
  /** Share of the load core that processes other than the bench's took. */
  load: number
  /** The measured server's (and its redis-server's) CPU time over the wall time: 1 = saturated. */
  busy: number
}

export interface CoreMeterSpec {
  serverCpu: string
  loadCpu: string
  /** The bench's processes on the server core (the app, its redis-server). */
  serverPids: number[]
}

/**
 * Starts a meter; `stop(ownLoadCpuMs)` returns the shares over the interval,
 * given the CPU time the load side (this process) used meanwhile.
 */
export function meterCores(spec: CoreMeterSpec): { stop(ownMs: number): CoreShares | undefined } {
  const t0 = performance.now()
  const s0 = coreBusyMs(spec.serverCpu)
  const l0 = coreBusyMs(spec.loadCpu)
  const own0 = spec.serverPids.reduce((n, pid) => n + processCpuMs(pid), 0)
  return {
    stop(ownMs) {
      const wall = performance.now() - t0
      const s1 = coreBusyMs(spec.serverCpu)
      const l1 = coreBusyMs(spec.loadCpu)
      if (s0 === undefined || s1 === undefined || l0 === undefined || l1 === undefined)
        return undefined
      const server = spec.serverPids.reduce((n, pid) => n + processCpuMs(pid), 0) - own0
      const clamp = (x: number) => Math.min(1, Math.max(0, x))
      return {
        server: clamp((s1 - s0 - server) / wall),
        load: clamp((l1 - l0 - ownMs) / wall),
        busy: clamp(server / wall),
      }
    },
  }
}
