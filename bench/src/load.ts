import autocannon from 'autocannon'
import { type CoreMeterSpec, type CoreShares, meterCores } from './cpu'

// The load generator, run by the runner as its own process (pinned to the
// other core with taskset): a warm-up, then the measured run; prints one JSON
// line with the measured run's figures.

/** Which path each request asks for. */
export type PathSpec =
  | { kind: 'static'; path: string }
  /** `prefix` + a number never used before in this run: every request a new cache key. */
  | { kind: 'unique'; prefix: string; tag: string }
  /** `prefix` + one of `count` ids, spread (a stride prime to `count`). */
  | { kind: 'cycle'; prefix: string; count: number }

export interface LoadSpec {
  origin: string
  path: PathSpec
  connections: number
  /** Seconds of warm-up (not measured); 0 for none. */
  warmup: number
  /** Seconds measured; ignored when `amount` is set. */
  duration: number
  /** A fixed number of requests instead of a duration (bounded by `duration` × 10 anyway). */
  amount?: number
  /** Cores to watch during the measured run (when pinned). */
  meter?: CoreMeterSpec
}

export interface LoadResult {
  rps: number
  ok: number
  total: number
  non2xx: number
  errors: number
  timeouts: number
  p50: number
  p99: number
  seconds: number
  throughputMBps: number
  /** During the measured run: the server's saturation, and other processes' share of each core. */
  cores: CoreShares | undefined
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}

function pathMaker(spec: PathSpec): () => string {
  if (spec.kind === 'static') return () => spec.path
  let i = 0
  if (spec.kind === 'unique') return () => `${spec.prefix}${spec.tag}-${i++}`
  let stride = 7919
  while (gcd(stride, spec.count) !== 1) stride++
  return () => `${spec.prefix}${(i++ * stride) % spec.count}`
}

function run(spec: LoadSpec, seconds: number, next: () => string, amount?: number) {
  const opts: autocannon.Options = {
    url: spec.origin,
    connections: spec.connections,
    duration: seconds,
    // Even a run with a fixed amount stops by itself.
    ...(amount !== undefined ? { amount, maxOverallRequests: amount } : {}),
    timeout: 10,
  }
  if (spec.path.kind === 'static') opts.url = `${spec.origin}${spec.path.path}`
  else
    opts.requests = [
      {
        setupRequest: (req) => {
          req.path = next()
          return req
        },
      },
    ]
  return autocannon(opts)
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec
  const next = pathMaker(spec.path)
  if (spec.warmup > 0) await run(spec, spec.warmup, next)
  const bound = spec.amount !== undefined ? Math.max(spec.duration, 1) * 10 : spec.duration
  const meter = spec.meter ? meterCores(spec.meter) : undefined
  const cpu0 = process.cpuUsage()
  const r = await run(spec, bound, next, spec.amount)
  const cpu = process.cpuUsage(cpu0)
  const cores = meter?.stop((cpu.user + cpu.system) / 1000)
  const ok = r['2xx']
  const result: LoadResult = {
    rps: ok / r.duration,
    ok,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    p50: r.latency.p50,
    p99: r.latency.p99,
    seconds: r.duration,
    throughputMBps: r.throughput.average / 1024 / 1024,
    cores,
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})
