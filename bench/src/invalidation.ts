import { performance } from 'node:perf_hooks'
import type { BenchData, InvalidationResult } from './data'
import { ENTRIES_LARGE, ENTRIES_SMALL, type Measurement } from './matrix'
import type { Options } from './options'
import { probe } from './probe'
import { type AppProcess, control, request, runLoad } from './procs'
import { elapsed, fmt, log } from './progress'
import { specFor } from './rounds'

// The invalidation phase: tag invalidations timed in the app, and other keys'
// hit throughput while they run.

/** The keys whose hit throughput is measured while invalidations run. */
const OTHER_KEYS = 1_000

export async function invalidation(
  backend: 'memory' | 'redis',
  app: AppProcess,
  o: Options,
  data: BenchData,
): Promise<InvalidationResult> {
  const large = o.quick ? 10_000 : ENTRIES_LARGE
  const small = o.quick ? 100 : ENTRIES_SMALL
  const repeats = o.quick ? 5 : 50
  // Redis fills take ~10 s per 100k: one fill there, one per round in memory.
  const fillRounds = backend === 'redis' ? 1 : o.rounds
  const result: InvalidationResult = {
    backend,
    large,
    small,
    fillMs: [],
    firstSmallMs: [],
    firstLargeMs: [],
    verified: [],
    repeats,
    repeatedSmall: undefined,
    repeatedLarge: undefined,
    warmupMs: undefined,
    baseline: [],
    during: [],
    loops: [],
  }
  const inv = (tag: string, n: number) =>
    control<{ medianMs: number; firstMs: number; p99Ms: number; count: number }>(
      app,
      `/invalidate?tag=${tag}&n=${n}`,
    )
  // The first invalidation of a new keyspace may wait out a lease: not what is measured.
  result.warmupMs = (await inv('warmup', 1)).firstMs
  const fill = async () => {
    const t0 = performance.now()
    await control(app, `/prefill?route=small&count=${small}&concurrency=128`)
    await control(app, `/prefill?route=tagged&count=${large}&concurrency=128`)
    return performance.now() - t0
  }
  for (let r = 0; r < fillRounds; r++) {
    result.fillMs.push(await fill())
    const hit = (await request(`${app.origin}/tagged/5`)).headers['x-cache']
    result.firstSmallMs.push((await inv('small', 1)).firstMs)
    result.firstLargeMs.push((await inv('big', 1)).firstMs)
    const after = (await request(`${app.origin}/tagged/5`)).headers['x-cache']
    result.verified.push(`/tagged/5: ${hit} before, ${after} after`)
    log(
      `[${elapsed()}] invalidation ${backend}: fill ${fmt(result.fillMs.at(-1) ?? 0)} ms; first invalidation of the ${fmt(small)}-entry tag ${result.firstSmallMs.at(-1)?.toFixed(3)} ms, of the ${fmt(large)}-entry tag ${result.firstLargeMs.at(-1)?.toFixed(3)} ms (${result.verified.at(-1)})`,
    )
  }
  result.repeatedSmall = (await inv('small', repeats)).medianMs
  result.repeatedLarge = (await inv('big', repeats)).medianMs
  if (o.quick) return result
  // Hit throughput of other keys (1,000 of them, requests spread over them:
  // one hot key in a 100k-entry tier measures something else, see scaling),
  // without and while the big tag is invalidated every 10 ms (its 100k entries
  // filled again first).
  if (backend === 'memory') await fill()
  await control(app, `/prefill?route=items&count=${OTHER_KEYS}&concurrency=128`)
  const m: Measurement = {
    id: `invalidation/${backend}`,
    group: 'invalidation',
    kind: backend,
    label: '',
    app: app.name,
    path: { kind: 'cycle', prefix: '/items/', count: OTHER_KEYS },
    size: '2k',
    expect: 'hit',
    route: 'items',
  }
  const problem = await probe(m, app)
  if (problem) data.problems.set(m.id, problem)
  // Baseline, during, baseline, during, ..., baseline: each "during" is compared
  // with the mean of the baselines on either side, which cancels a drift.
  const spec = { ...specFor(m, o, 0), origin: app.origin }
  result.baseline.push(await runLoad(spec))
  for (let r = 0; r < o.rounds; r++) {
    const loopMs = Math.ceil((o.warmup + o.duration) * 1000 + 500)
    const loop = control<{ count: number; medianMs: number; p99Ms: number; maxMs: number }>(
      app,
      `/invalidate-loop?tag=big&ms=${loopMs}&every=10`,
    )
    result.during.push(await runLoad(spec))
    result.loops.push(await loop)
    result.baseline.push(await runLoad(spec))
    log(
      `[${elapsed()}] invalidation ${backend} round ${r + 1}: hits on other keys ${fmt(result.during.at(-1)?.rps ?? 0)} req/s while invalidating every 10 ms (${result.loops.at(-1)?.count} invalidations, median ${result.loops.at(-1)?.medianMs.toFixed(3)} ms), ${fmt(result.baseline.at(-2)?.rps ?? 0)} and ${fmt(result.baseline.at(-1)?.rps ?? 0)} req/s without, before and after`,
    )
  }
  return result
}
