import { performance } from 'node:perf_hooks'
import type { Apps } from './app-pool'
import type { BenchData, Sample } from './data'
import type { LoadSpec, PathSpec } from './load'
import type { Measurement } from './matrix'
import type { Options } from './options'
import { probe, stats } from './probe'
import {
  type AppProcess,
  control,
  LOAD_CPU,
  loadCommand,
  runLoad,
  SERVER_CPU,
  TASKSET,
} from './procs'
import { elapsed, fmt, log, pct, started } from './progress'
import type { BenchRedis } from './redis'

// The rounds: every measurement once per round, alternating, each sample
// taken again when other processes were busy.

let runSerial = 0

/** Which cores a load generator watches for an app (with taskset only). */
function meterFor(app: AppProcess, redis: BenchRedis | undefined): LoadSpec['meter'] {
  if (!TASKSET) return undefined
  const serverPids = app.config.redis && redis ? [app.pid, redis.pid] : [app.pid]
  return { serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, serverPids }
}

export function specFor(m: Measurement, o: Options, round: number): LoadSpec {
  const path: PathSpec =
    m.path.kind === 'unique' ? { ...m.path, tag: `${process.pid}x${++runSerial}r${round}` } : m.path
  // autocannon measures in whole seconds: a quick run sends a fixed number instead.
  if (o.quick)
    return { origin: '', path, connections: o.connections, warmup: 0, duration: 1, amount: 1000 }
  return {
    origin: '',
    path,
    connections: o.connections,
    warmup: o.warmup,
    duration: o.duration,
  }
}

/** Runs every measurement once per round, rotating the order from round to round. */
export async function runRounds(
  measurements: Measurement[],
  apps: Apps,
  o: Options,
  data: BenchData,
): Promise<void> {
  for (const m of measurements) {
    const app = apps.get(m.app)
    if (m.prefill) {
      const r = await control<{ ms: number; stored: number }>(
        app,
        `/prefill?route=${m.prefill.route}&count=${m.prefill.count}`,
      )
      log(`  ${m.app}: prefilled ${fmt(r.stored)} entries in ${r.ms.toFixed(0)} ms`)
    }
    const problem = await probe(m, app)
    data.samples.set(m.id, [])
    data.problems.set(m.id, problem)
    if (problem) log(`  ! ${m.id}: ${problem}`)
    if (!data.loadExample)
      data.loadExample = loadCommand({ ...specFor(m, o, 0), origin: app.origin })
  }
  for (let round = 0; round < o.rounds; round++) {
    const shift = Math.floor((round * measurements.length) / o.rounds)
    const order = [...measurements.slice(shift), ...measurements.slice(0, shift)]
    for (const m of order) {
      const app = apps.get(m.app)
      let kept: Sample | undefined
      for (let attempt = 0; ; attempt++) {
        const before = await stats(app)
        const result = await runLoad({
          ...specFor(m, o, round),
          origin: app.origin,
          meter: meterFor(app, apps.redis),
        })
        const after = await stats(app)
        const calls = (after.calls[m.route] ?? 0) - (before.calls[m.route] ?? 0)
        const sample: Sample = { ...result, originCalls: calls, retakes: attempt }
        const other = result.cores
        log(
          `[${elapsed()}] round ${round + 1}/${o.rounds} ${m.id}: ${fmt(result.rps)} req/s, p99 ${result.p99} ms, origin calls ${fmt(calls)}${other ? `, server busy ${pct(other.busy)}, other load ${pct(other.server)} / ${pct(other.load)}` : ''}${result.errors + result.non2xx > 0 ? `, ${result.errors} errors, ${result.non2xx} non-2xx` : ''}`,
        )
        if (kept === undefined || noise(sample) < noise(kept)) kept = sample
        // A sample taken while other processes took a good part of a core is
        // taken again (twice at most, within a budget for the whole run).
        if (noise(sample) <= NOISY || attempt >= 2 || !retakeAllowed(o)) break
        retakesLeft--
        data.retakes++
        log(`  retaking ${m.id}: other processes took ${pct(noise(sample))} of a core`)
      }
      data.samples.get(m.id)?.push(kept)
    }
  }
}

/** The larger share of a core that other processes took during a sample. */
function noise(s: Sample): number {
  return s.cores ? Math.max(s.cores.server, s.cores.load) : 0
}

/** A sample noisier than this is taken again. */
const NOISY = 0.15
let retakesLeft = 16

function retakeAllowed(o: Options): boolean {
  return !o.quick && retakesLeft > 0 && performance.now() - started < 9 * 60_000
}
