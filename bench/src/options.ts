import path from 'node:path'

// The runner's command line, and where it writes.

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

export const HELP = `usage: npm run bench -- [options]
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

export const BENCH_DIR = path.resolve(__dirname, '..')
export const ROOT = path.resolve(BENCH_DIR, '..')
export const DEFAULT_OUT = path.join(BENCH_DIR, 'results', 'latest.md')

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
