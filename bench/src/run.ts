import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { LoadSpec, PathSpec } from './load'
import {
  APPS,
  ENTRIES_LARGE,
  ENTRIES_SMALL,
  type Measurement,
  mainMeasurements,
  STAMPEDE_APPS,
  scalingMeasurements,
} from './matrix'
import {
  type AppProcess,
  control,
  killAll,
  LOAD_CPU,
  loadCommand,
  request,
  runLoad,
  SERVER_CPU,
  startApp,
  TASKSET,
} from './procs'
import { type ProfileSummary, profileMarkdown, summarizeProfile } from './profile'
import { type BenchRedis, startRedis } from './redis'
import {
  type BenchData,
  evaluateTargets,
  type FloodSample,
  type InvalidationResult,
  report,
  type Sample,
  type StampedeResult,
} from './report'
import { SIZES, SLOW_ORIGIN_MS } from './shared'

// `npm run bench`: starts each app as its own process (pinned to one core),
// drives it from a load generator pinned to the other core, alternating the
// configurations within each round, and writes bench/results/latest.md.

export interface Options {
  rounds: number
  duration: number
  warmup: number
  connections: number
  quick: boolean
  only: RegExp | undefined
  out: string | undefined
  profile: RegExp | undefined
  profileMisses: boolean
}

const HELP = `usage: npm run bench -- [options]
  --rounds N        rounds; each runs every configuration once, alternating (default 3, at least 1)
  --duration S      seconds measured per configuration and round (default 3; autocannon counts whole seconds)
  --warmup S        seconds of warm-up before each measurement (default 1)
  --connections C   autocannon connections (default 64)
  --only REGEX      only the measurements whose id matches (ids: express/l1-hit/2k,
                    koa/miss/100k, scaling/rules-200/2k, ...) and the phases whose
                    name matches (stampede, invalidation, memory)
  --profile REGEX   also profile (node --cpu-prof) the app of each matching measurement
  --no-profile      do not profile the cachet configurations of missed targets
  --quick           a smoke run of a few seconds: a few configurations, 1 round, 1,000 requests each
  --out FILE        where to write the Markdown (default bench/results/latest.md;
                    with --quick, nowhere)`

const BENCH_DIR = path.resolve(__dirname, '..')
const ROOT = path.resolve(BENCH_DIR, '..')
const DEFAULT_OUT = path.join(BENCH_DIR, 'results', 'latest.md')

export function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    duration: 3,
    warmup: 1,
    connections: 64,
    quick: false,
    only: undefined,
    out: undefined,
    profile: undefined,
    profileMisses: true,
  }
  const num = (name: string, v: string | undefined, min: number) => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min) throw new Error(`${name}: expected a number ≥ ${min}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => argv[++i]
    if (a === '--rounds') o.rounds = Math.floor(num(a, v(), 1))
    else if (a === '--duration') o.duration = num(a, v(), 1)
    else if (a === '--warmup') o.warmup = num(a, v(), 0)
    else if (a === '--connections') o.connections = Math.floor(num(a, v(), 1))
    else if (a === '--only') o.only = new RegExp(v() ?? '')
    else if (a === '--profile') o.profile = new RegExp(v() ?? '')
    else if (a === '--no-profile') o.profileMisses = false
    else if (a === '--out') o.out = path.resolve(v() ?? '')
    else if (a === '--quick') o.quick = true
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${HELP}\n`)
      process.exit(0)
    } else throw new Error(`unknown option ${a}\n${HELP}`)
  }
  if (o.quick) {
    // 1,000 requests per measurement, no warm-up (see specFor).
    o.rounds = 1
    o.duration = 0
    o.warmup = 0
    o.profileMisses = false
  }
  return o
}

/** Profiles start only before this point of the run (a profile takes ~10 s). */
const PROFILE_DEADLINE_MS = 13.5 * 60_000

const log = (text: string) => process.stderr.write(`${text}\n`)
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const pct = (x: number) => `${(x * 100).toFixed(0)}%`

/** Where the bench is in its time budget. */
const started = performance.now()
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`

// ---------------------------------------------------------------------------
// Apps

class Apps {
  readonly #running = new Map<string, AppProcess>()
  readonly commands = new Map<string, string>()
  constructor(readonly redis: BenchRedis | undefined) {}

  configFor(name: string) {
    const base = APPS[name]
    if (base === undefined) throw new Error(`unknown app ${name}`)
    if (!base.redis) return base
    if (this.redis === undefined) throw new Error(`${name} needs Redis`)
    // A prefix per process start: every app meets a keyspace of its own.
    const prefix = `bench-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    return { ...base, redisUrl: this.redis.url, prefix }
  }

  async start(names: string[]): Promise<void> {
    const todo = names.filter((n) => !this.#running.has(n))
    // One at a time: they share one core, and a start-up is short.
    for (const name of todo) {
      const app = await startApp(name, this.configFor(name))
      this.#running.set(name, app)
      this.commands.set(name, app.command)
    }
  }

  get(name: string): AppProcess {
    const app = this.#running.get(name)
    if (app === undefined) throw new Error(`app ${name} is not running`)
    return app
  }

  async stop(names: string[] = [...this.#running.keys()]): Promise<void> {
    for (const name of names) {
      const app = this.#running.get(name)
      this.#running.delete(name)
      await app?.stop()
    }
  }
}

// ---------------------------------------------------------------------------
// Probes: every measurement is checked once to measure what it says

async function probe(m: Measurement, app: AppProcess): Promise<string | undefined> {
  const get = (p: string) => request(`${app.origin}${p}`)
  const bytes = m.path.kind === 'cycle' ? SIZES['2k'] : SIZES[m.size]
  const first = m.path.kind === 'static' ? m.path.path : `${m.path.prefix}probe-${Date.now()}`
  const path1 = m.path.kind === 'cycle' ? `${m.path.prefix}7` : first
  const a = await get(path1)
  if (a.status !== 200) return `${path1}: status ${a.status}`
  if (a.body.length !== bytes) return `${path1}: ${a.body.length} bytes, expected ${bytes}`
  if (m.expect === 'apicache') await sleep(50) // its Redis write is not awaited
  const callsBefore = (await stats(app)).calls[m.route] ?? 0
  const b = await get(path1)
  const repeatRanOrigin = ((await stats(app)).calls[m.route] ?? 0) !== callsBefore
  const xcache = b.headers['x-cache']
  const cached = ['hit', 'miss', 'apicache', 'koa-cash'].includes(m.expect)
  if (cached && repeatRanOrigin) return `${path1} again: the origin ran, expected a hit`
  switch (m.expect) {
    case 'hit':
      return xcache === 'HIT' ? undefined : `${path1}: X-Cache ${xcache}, expected HIT`
    case 'miss':
      if (a.headers['x-cache'] !== 'MISS')
        return `${path1}: X-Cache ${a.headers['x-cache']}, expected MISS`
      return xcache === 'HIT' ? undefined : `${path1} again: X-Cache ${xcache}, expected HIT`
    case 'unmatched':
    case 'plain':
      return xcache === undefined ? undefined : `${path1}: X-Cache ${xcache}, expected none`
    case 'apicache':
      // In production (NODE_ENV=production) apicache sends no headers of its own: the
      // origin-call check above is the proof.
      return undefined
    case 'koa-cash':
      return b.headers['x-cached-response'] === 'HIT'
        ? undefined
        : `${path1}: no X-Cached-Response: HIT`
  }
}

interface Stats {
  rss: number
  heapUsed: number
  arrayBuffers: number
  l1: { bytes: number; size: number; evictions: number; maxBytes: number } | null
  maxL1BytesSeen: number
  calls: Record<string, number>
}

const stats = (app: AppProcess) => control<Stats>(app, '/stats')

// ---------------------------------------------------------------------------
// Rounds

let runSerial = 0

/** Which cores a load generator watches for an app (with taskset only). */
function meterFor(app: AppProcess, redis: BenchRedis | undefined): LoadSpec['meter'] {
  if (!TASKSET) return undefined
  const serverPids = app.config.redis && redis ? [app.pid, redis.pid] : [app.pid]
  return { serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, serverPids }
}

function specFor(m: Measurement, o: Options, round: number): LoadSpec {
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
async function runRounds(
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

// ---------------------------------------------------------------------------
// Stampede

const STAMPEDE_REQUESTS = 200

async function stampede(app: AppProcess, trial: number): Promise<StampedeResult> {
  const id = `st-${process.pid}-${trial}-${Date.now()}`
  const agent = new http.Agent({ keepAlive: false, maxSockets: STAMPEDE_REQUESTS })
  const t0 = performance.now()
  const replies = await Promise.all(
    Array.from({ length: STAMPEDE_REQUESTS }, () =>
      request(`${app.origin}/slow/${id}`, { agent, timeoutMs: 30_000 }).catch(() => undefined),
    ),
  )
  const ms = performance.now() - t0
  agent.destroy()
  const { calls } = await control<{ calls: number }>(app, `/slow-calls?id=${id}`)
  const outcomes: Record<string, number> = {}
  let ok = 0
  for (const r of replies) {
    if (r?.status === 200) ok++
    const tag =
      r === undefined
        ? 'error'
        : String(
            r.headers['x-cache'] ??
              (r.headers['apicache-store'] ? 'apicache HIT' : undefined) ??
              (r.headers['x-cached-response'] ? 'koa-cash HIT' : 'no header'),
          )
    outcomes[tag] = (outcomes[tag] ?? 0) + 1
  }
  return { app: app.name, calls, ok, ms, outcomes }
}

// ---------------------------------------------------------------------------
// Invalidation

/** The keys whose hit throughput is measured while invalidations run. */
const OTHER_KEYS = 1_000

async function invalidation(
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

// ---------------------------------------------------------------------------
// Memory flood

async function flood(app: AppProcess, o: Options): Promise<FloodSample[]> {
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

// ---------------------------------------------------------------------------
// Profiles

async function profile(
  m: Measurement,
  apps: Apps,
  o: Options,
): Promise<{ summary: ProfileSummary; command: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cachet-bench-prof-'))
  try {
    const app = await startApp(`${m.app} (profiled)`, apps.configFor(m.app), [
      '--cpu-prof',
      '--cpu-prof-dir',
      dir,
    ])
    try {
      if (m.prefill)
        await control(app, `/prefill?route=${m.prefill.route}&count=${m.prefill.count}`)
      await probe(m, app)
      await runLoad({ ...specFor(m, o, 0), origin: app.origin })
    } finally {
      await app.stop()
    }
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`${m.id}: no .cpuprofile written`)
    return { summary: summarizeProfile(path.join(dir, file)), command: app.command }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------
// Machine

function versionOf(name: string): string {
  for (const base of [path.join(BENCH_DIR, 'node_modules'), path.join(ROOT, 'node_modules')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(base, name, 'package.json'), 'utf8'))
      return String(pkg.version)
    } catch {}
  }
  return '?'
}

function machine(redis: BenchRedis | undefined): BenchData['machine'] {
  const cpus = os.cpus()
  let commit = '?'
  try {
    commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout.trim()
    const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout
    if (dirty.trim()) {
      // The working tree is what is measured: say which files differ from the commit.
      const files = dirty
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => l.slice(3).trim())
      commit += ` with uncommitted changes in ${files.filter((f) => !f.startsWith('bench/')).join(', ') || 'bench/ only'}`
    }
  } catch {}
  return {
    cpu: cpus[0]?.model ?? '?',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit,
    loadBefore: os.loadavg(),
    loadAfter: [],
    pinning: TASKSET
      ? `servers and redis-server: taskset -c ${SERVER_CPU}; load generator: taskset -c ${LOAD_CPU}`
      : 'taskset not found: nothing pinned',
    versions: {
      express: versionOf('express'),
      koa: versionOf('koa'),
      apicache: versionOf('apicache'),
      'koa-cash': versionOf('koa-cash'),
      autocannon: versionOf('autocannon'),
      ioredis: versionOf('ioredis'),
      'redis (node-redis, for apicache)': versionOf('redis'),
      'redis-server': redis?.version ?? 'not started',
    },
  }
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2))
  // The runner itself stays off the server core.
  if (TASKSET) spawnSync(TASKSET, ['-cp', LOAD_CPU, String(process.pid)], { stdio: 'ignore' })
  const only = (name: string) => o.only === undefined || o.only.test(name)

  let main = mainMeasurements().filter((m) => only(m.id))
  let scaling = scalingMeasurements().filter((m) => only(m.id))
  let stampedeApps = only('stampede') ? STAMPEDE_APPS : []
  let doInvalidation = only('invalidation')
  let doMemory = only('memory')
  if (o.quick) {
    const quick = ['express/l1-hit/2k', 'express/l2-hit/2k', 'koa/l1-hit/2k']
    main = main.filter((m) => quick.includes(m.id))
    scaling = []
    stampedeApps = stampedeApps.filter((s) => s.app === 'express-cachet')
    doInvalidation &&= true
    doMemory &&= true
  }

  const needsRedis =
    main.some((m) => APPS[m.app]?.redis) ||
    stampedeApps.some((s) => APPS[s.app]?.redis) ||
    (doInvalidation && !o.quick)
  const perMeasurement = o.warmup + o.duration + 0.6
  const estimate =
    (main.length + scaling.length) * o.rounds * perMeasurement +
    (doInvalidation && !o.quick ? 2 * (2 * o.rounds + 1) * perMeasurement + 20 + o.rounds * 2 : 0) +
    (doMemory ? 15 : 0) +
    stampedeApps.length * o.rounds * 0.5 +
    30 +
    (o.profileMisses ? 40 : 0)
  log(
    `cachet bench: ${main.length + scaling.length} measurements × ${o.rounds} rounds, -c ${o.connections}, warm-up ${o.warmup} s + ${o.duration} s each; estimated ${Math.ceil(estimate / 60)} min`,
  )

  const builds = buildStamps()
  const redis = needsRedis ? await startRedis(TASKSET ? SERVER_CPU : undefined) : undefined
  redisPid = redis?.pid
  const apps = new Apps(redis)
  const data: BenchData = {
    options: o,
    argv: process.argv.slice(2),
    startedAt: new Date(),
    seconds: 0,
    machine: machine(redis),
    measurements: [...main, ...scaling],
    samples: new Map(),
    problems: new Map(),
    stampede: [],
    invalidation: [],
    flood: undefined,
    profiles: [],
    skippedProfiles: [],
    retakes: 0,
    warnings: [],
    appCommands: apps.commands,
    loadExample: undefined,
  }
  const cleanup = async () => {
    await apps.stop()
    await redis?.stop()
  }
  try {
    // The main matrix and the stampede share their apps.
    const mainApps = [...new Set([...main.map((m) => m.app), ...stampedeApps.map((s) => s.app)])]
    log(`[${elapsed()}] starting ${mainApps.length} apps`)
    await apps.start(mainApps)
    if (main.length > 0) await runRounds(main, apps, o, data)

    for (let round = 0; round < o.rounds && stampedeApps.length > 0; round++) {
      for (const s of stampedeApps) {
        const r = await stampede(apps.get(s.app), round)
        data.stampede.push(r)
        log(
          `[${elapsed()}] stampede ${s.app}: ${r.calls} origin calls for ${STAMPEDE_REQUESTS} concurrent cold requests (${SLOW_ORIGIN_MS} ms origin), ${r.ok} × 200 in ${r.ms.toFixed(0)} ms`,
        )
      }
    }
    await apps.stop(mainApps)

    if (scaling.length > 0) {
      const names = [...new Set(scaling.map((m) => m.app))]
      await apps.start(names)
      await runRounds(scaling, apps, o, data)
      await apps.stop(names)
    }

    if (doInvalidation) {
      const backends: ('memory' | 'redis')[] = o.quick ? ['memory'] : ['memory', 'redis']
      for (const backend of backends) {
        const name = `express-inval-${backend}`
        await apps.start([name])
        data.invalidation.push(await invalidation(backend, apps.get(name), o, data))
        await apps.stop([name])
      }
    }

    if (doMemory) {
      await apps.start(['express-flood'])
      data.flood = await flood(apps.get('express-flood'), o)
      await apps.stop(['express-flood'])
    }

    // Profiles: the cachet side of every missed target (at most 4), and --profile.
    const targets = evaluateTargets(data)
    const subjects = new Set<string>()
    if (o.profileMisses)
      for (const t of targets) if (!t.met && t.subject && subjects.size < 6) subjects.add(t.subject)
    if (o.profile) for (const m of data.measurements) if (o.profile.test(m.id)) subjects.add(m.id)
    for (const id of subjects) {
      const m = data.measurements.find((x) => x.id === id)
      if (!m) continue
      // The whole run stays under 15 minutes: profiles are the first thing to go.
      if (o.profile === undefined && performance.now() - started > PROFILE_DEADLINE_MS) {
        log(`[${elapsed()}] no time left for the profile of ${id}`)
        data.skippedProfiles.push(id)
        continue
      }
      log(`[${elapsed()}] profiling ${id} (node --cpu-prof, ${o.warmup} s + ${o.duration} s)`)
      try {
        const p = await profile(m, apps, o)
        data.profiles.push({ id, label: m.label, ...p })
      } catch (err) {
        log(`  ! profile ${id}: ${(err as Error).message}`)
      }
    }
  } finally {
    await cleanup()
  }

  data.seconds = (performance.now() - started) / 1000
  const rebuilt = changedBuilds(builds)
  if (rebuilt.length > 0) {
    data.warnings.push(
      `the code under test was rebuilt during the run (${rebuilt.join(', ')}): processes started before and after ran different builds`,
    )
  }
  data.machine.loadAfter = os.loadavg()
  const md = report(data)
  process.stdout.write(`${md}\n`)
  // A quick run (the test suite's smoke) prints its report and writes nothing, unless told where.
  const out = o.out ?? (o.quick ? undefined : DEFAULT_OUT)
  if (out !== undefined) {
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, md)
    for (const p of data.profiles) {
      const file = path.join(path.dirname(out), 'profiles', `${p.id.replace(/\//g, '_')}.md`)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, profileMarkdown(`${p.id} — ${p.label}`, p.summary, p.command))
    }
    log(`[${elapsed()}] wrote ${path.relative(process.cwd(), out)}`)
  }
  // A full default run also refreshes the table in bench/README.md.
  if (!o.quick && o.only === undefined && o.out === undefined) updateReadme(md)
}

/** The compiled packages under test, and when each was last written. */
function buildStamps(): Map<string, number> {
  const stamps = new Map<string, number>()
  for (const pkg of ['packages/core', 'packages/express', 'packages/koa', 'bench']) {
    const dir = path.join(ROOT, pkg, 'dist')
    let newest = 0
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const f = path.join(d, e.name)
        if (e.isDirectory()) walk(f)
        else if (e.name.endsWith('.js')) newest = Math.max(newest, fs.statSync(f).mtimeMs)
      }
    }
    try {
      walk(dir)
    } catch {}
    stamps.set(pkg, newest)
  }
  return stamps
}

function changedBuilds(before: Map<string, number>): string[] {
  const now = buildStamps()
  return [...before].filter(([pkg, t]) => now.get(pkg) !== t).map(([pkg]) => `${pkg}/dist`)
}

function updateReadme(md: string): void {
  const file = path.join(BENCH_DIR, 'README.md')
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return
  }
  const start = '<!-- latest:start -->'
  const end = '<!-- latest:end -->'
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a < 0 || b < a) return
  fs.writeFileSync(file, `${text.slice(0, a + start.length)}\n${readmeBlock(md)}\n${text.slice(b)}`)
}

/** The report's tables for the README: everything before the missed targets, profiles and machine. */
export function readmeBlock(md: string): string {
  const body = md.replace(/^# .*\n/, '')
  const cut = body.search(/^## (Missed targets|Profiles|Probe failures|Machine)/m)
  return `${(cut < 0 ? body : body.slice(0, cut)).trim()}\n\nMissed targets with their profiles, the machine, versions and exact commands: [results/latest.md](results/latest.md).`
}

/** The bench's own redis-server, killed by its pid if the bench is interrupted. */
let redisPid: number | undefined

function killRedis(): void {
  if (redisPid === undefined) return
  try {
    process.kill(redisPid, 'SIGKILL')
  } catch {}
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    killRedis()
    process.exit(130)
  })
}
process.on('exit', killAll)

main().catch((err: Error) => {
  log(`bench failed: ${err.stack ?? err.message}`)
  killAll()
  killRedis()
  process.exit(1)
})
