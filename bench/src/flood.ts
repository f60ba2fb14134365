import type { FloodSample } from './data'
import type { Options } from './options'
import { stats } from './probe'
import { type AppProcess, runLoad } from './procs'
import { elapsed, fmt, log } from './progress'

// The memory phase: a flood of distinct URLs, memory sampled after each step.

export async function flood(app: AppProcess, o: Options): Promise<FloodSample[]> {
  const total = o.quick ? 1_000 : 20_000
  const step = o.quick ? 500 : 5_000
  const samples: FloodSample[] = []
  const sample = async (urls: number) => {
    const s = await stats(app)
    samples.push({
      urls,
      rss: s.rss,
      heapUsed: s.heapUsed,
      arrayBuffers: s.arrayBuffers,
      l1Bytes: s.l1?.bytes ?? 0,
      l1Entries: s.l1?.size ?? 0,
      evictions: s.l1?.evictions ?? 0,
      maxBytes: s.l1?.maxBytes ?? 0,
      maxL1BytesSeen: s.maxL1BytesSeen,
      originCalls: s.calls.flood ?? 0,
    })
    log(
      `[${elapsed()}] memory: ${fmt(urls)} URLs: RSS ${(s.rss / 2 ** 20).toFixed(1)} MiB, L1 ${((s.l1?.bytes ?? 0) / 2 ** 20).toFixed(1)} MiB in ${fmt(s.l1?.size ?? 0)} entries`,
    )
  }
  await sample(0)
  for (let sent = 0; sent < total; sent += step) {
    await runLoad({
      origin: app.origin,
      path: { kind: 'unique', prefix: '/flood/', tag: `${process.pid}s${sent}` },
      connections: o.connections,
      warmup: 0,
      duration: 30,
      amount: step,
    })
    await sample(sent + step)
  }
  return samples
}
