import type { PathSpec } from './load'
import type { AppConfig, SizeName } from './shared'

// Every app process the bench may start, and every throughput measurement.

export const APPS: Record<string, AppConfig> = {
  node: { framework: 'node', cache: 'none' },
  express: { framework: 'express', cache: 'none' },
  'express-cachet': { framework: 'express', cache: 'cachet' },
  'express-cachet-l2': { framework: 'express', cache: 'cachet', redis: true, l1: false },
  'express-apicache': { framework: 'express', cache: 'apicache' },
  'express-apicache-redis': { framework: 'express', cache: 'apicache', redis: true },
  // The anchors' miss paths, in apps of their own (as cachet's: they fill their store).
  'express-apicache-miss': { framework: 'express', cache: 'apicache' },
  'koa-cash-miss': { framework: 'koa', cache: 'koa-cash' },
  'express-bound': { framework: 'express', cache: 'bound' },
  koa: { framework: 'koa', cache: 'none' },
  'koa-bound': { framework: 'koa', cache: 'bound' },
  'koa-cachet': { framework: 'koa', cache: 'cachet' },
  'koa-cachet-l2': { framework: 'koa', cache: 'cachet', redis: true, l1: false },
  'koa-cash': { framework: 'koa', cache: 'koa-cash' },
  'express-cachet-edge': { framework: 'express', cache: 'cachet', edge: true },
  'koa-cachet-edge': { framework: 'koa', cache: 'cachet', edge: true },
  // The miss path fills its app's memory tier with new entries: an app of its
  // own, so that the hit measurements see a tier of a few entries.
  'express-cachet-miss': { framework: 'express', cache: 'cachet' },
  'koa-cachet-miss': { framework: 'koa', cache: 'cachet' },
  fastify: { framework: 'fastify', cache: 'none' },
  'fastify-bound': { framework: 'fastify', cache: 'bound' },
  'fastify-cachet': { framework: 'fastify', cache: 'cachet' },
  'fastify-cachet-l2': { framework: 'fastify', cache: 'cachet', redis: true, l1: false },
  'fastify-cachet-edge': { framework: 'fastify', cache: 'cachet', edge: true },
  'fastify-cachet-miss': { framework: 'fastify', cache: 'cachet' },
  'express-rules-1': { framework: 'express', cache: 'cachet', rules: 'one' },
  'express-rules-200': { framework: 'express', cache: 'cachet', rules: 'many' },
  'express-rules-200-distinct': { framework: 'express', cache: 'cachet', rules: 'many-distinct' },
  'express-entries-1k-spread': { framework: 'express', cache: 'cachet', maxBytes: '1GiB' },
  'express-entries-100k-spread': { framework: 'express', cache: 'cachet', maxBytes: '1GiB' },
  'express-entries-1k-hot': { framework: 'express', cache: 'cachet', maxBytes: '1GiB' },
  'express-entries-100k-hot': { framework: 'express', cache: 'cachet', maxBytes: '1GiB' },
  'express-inval-memory': { framework: 'express', cache: 'cachet', maxBytes: '1GiB' },
  'express-inval-redis': { framework: 'express', cache: 'cachet', redis: true, maxBytes: '1GiB' },
  'express-flood': { framework: 'express', cache: 'cachet', maxBytes: '64MiB' },
}

/** What a measurement's responses must show (checked by a probe before the first round). */
export type Expect = 'hit' | 'miss' | 'plain' | 'unmatched' | 'apicache' | 'koa-cash'

export interface Measurement {
  /** `<group>/<kind>/<size>`, e.g. `express/l1-hit/2k`; `--only` matches it. */
  id: string
  group: string
  kind: string
  label: string
  app: string
  path: PathSpec
  size: SizeName
  expect: Expect
  /** The origin route whose calls are counted during the run. */
  route: string
  /** Entries to prefill through the engine before the first round. */
  prefill?: { route: string; count: number }
}

interface Row {
  kind: string
  label: string
  app: string
  expect: Expect
  route: 'data' | 'miss' | 'other'
  /**
   * Only at 2 KB: the anchors' miss paths keep every response with no byte
   * budget (apicache's memory store, koa-cash's Map), which at 100 KB would
   * be gigabytes within a run.
   */
  only2k?: boolean
}

const EXPRESS: Row[] = [
  {
    kind: 'floor',
    label: 'Express floor: route `res.send(buffer)`',
    app: 'express',
    expect: 'plain',
    route: 'data',
  },
  {
    kind: 'l1-hit',
    label: 'Express + cachet, L1 (memory) hit',
    app: 'express-cachet',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'bound',
    label:
      'Express, first middleware writes the precomputed response (bound of any `app.use` cache)',
    app: 'express-bound',
    expect: 'plain',
    route: 'data',
  },
  {
    kind: 'l1-edge-hit',
    label: 'Express + cachet, L1 hit at the edge: `cache.edge(listener)`',
    app: 'express-cachet-edge',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'l2-hit',
    label: 'Express + cachet, L2 (Redis) hit, L1 off',
    app: 'express-cachet-l2',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'miss',
    label: 'Express + cachet, miss path (origin runs, stored)',
    app: 'express-cachet-miss',
    expect: 'miss',
    route: 'miss',
  },
  {
    kind: 'miss-base',
    label: 'Express, same route without cachet',
    app: 'express',
    expect: 'plain',
    route: 'miss',
  },
  {
    kind: 'unmatched',
    label: 'Express + cachet (20 rules), route no rule matches',
    app: 'express-cachet',
    expect: 'unmatched',
    route: 'other',
  },
  {
    kind: 'unmatched-base',
    label: 'Express, same route without cachet',
    app: 'express',
    expect: 'plain',
    route: 'other',
  },
  {
    kind: 'apicache',
    label: 'Express + apicache (memory) hit',
    app: 'express-apicache',
    expect: 'apicache',
    route: 'data',
  },
  {
    kind: 'apicache-miss',
    label: 'Express + apicache (memory), miss path (origin runs, stored)',
    app: 'express-apicache-miss',
    expect: 'apicache',
    route: 'miss',
    only2k: true,
  },
  {
    kind: 'apicache-redis',
    label: 'Express + apicache (Redis) hit',
    app: 'express-apicache-redis',
    expect: 'apicache',
    route: 'data',
  },
]

const KOA: Row[] = [
  {
    kind: 'floor',
    label: 'Koa floor: route with a precomputed body',
    app: 'koa',
    expect: 'plain',
    route: 'data',
  },
  {
    kind: 'l1-hit',
    label: 'Koa + cachet, L1 (memory) hit',
    app: 'koa-cachet',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'bound',
    label: 'Koa, first middleware writes the precomputed response (bound of any `app.use` cache)',
    app: 'koa-bound',
    expect: 'plain',
    route: 'data',
  },
  {
    kind: 'l1-edge-hit',
    label: 'Koa + cachet, L1 hit at the edge: `cache.edge(listener)`',
    app: 'koa-cachet-edge',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'l2-hit',
    label: 'Koa + cachet, L2 (Redis) hit, L1 off',
    app: 'koa-cachet-l2',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'miss',
    label: 'Koa + cachet, miss path (origin runs, stored)',
    app: 'koa-cachet-miss',
    expect: 'miss',
    route: 'miss',
  },
  {
    kind: 'miss-base',
    label: 'Koa, same route without cachet',
    app: 'koa',
    expect: 'plain',
    route: 'miss',
  },
  {
    kind: 'unmatched',
    label: 'Koa + cachet (20 rules), route no rule matches',
    app: 'koa-cachet',
    expect: 'unmatched',
    route: 'other',
  },
  {
    kind: 'unmatched-base',
    label: 'Koa, same route without cachet',
    app: 'koa',
    expect: 'plain',
    route: 'other',
  },
  {
    kind: 'koa-cash',
    label: 'Koa + koa-cash (Map) hit',
    app: 'koa-cash',
    expect: 'koa-cash',
    route: 'data',
  },
  {
    kind: 'koa-cash-miss',
    label: 'Koa + koa-cash (Map), miss path (origin runs, stored)',
    app: 'koa-cash-miss',
    expect: 'koa-cash',
    route: 'miss',
    only2k: true,
  },
]

const FASTIFY: Row[] = [
  {
    kind: 'floor',
    label: 'Fastify floor: route with a precomputed body',
    app: 'fastify',
    expect: 'plain',
    route: 'data',
  },
  {
    kind: 'l1-hit',
    label: "Fastify + cachet, L1 (memory) hit (the plugin's `onRequest` hook)",
    app: 'fastify-cachet',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'bound',
    label:
      'Fastify, an `onRequest` hook writes the precomputed response (bound of any hook-based cache)',
    app: 'fastify-bound',
    expect: 'plain',
    route: 'data',
  },
  {
    kind: 'l1-edge-hit',
    label: 'Fastify + cachet, L1 hit at the edge: `cache.edge(handler)` in `serverFactory`',
    app: 'fastify-cachet-edge',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'l2-hit',
    label: 'Fastify + cachet, L2 (Redis) hit, L1 off',
    app: 'fastify-cachet-l2',
    expect: 'hit',
    route: 'data',
  },
  {
    kind: 'miss',
    label: 'Fastify + cachet, miss path (origin runs, stored)',
    app: 'fastify-cachet-miss',
    expect: 'miss',
    route: 'miss',
  },
  {
    kind: 'miss-base',
    label: 'Fastify, same route without cachet',
    app: 'fastify',
    expect: 'plain',
    route: 'miss',
  },
  {
    kind: 'unmatched',
    label: 'Fastify + cachet (20 rules), route no rule matches',
    app: 'fastify-cachet',
    expect: 'unmatched',
    route: 'other',
  },
  {
    kind: 'unmatched-base',
    label: 'Fastify, same route without cachet',
    app: 'fastify',
    expect: 'plain',
    route: 'other',
  },
]

const NODE: Row[] = [
  {
    kind: 'floor',
    label: 'node:http, precomputed buffer',
    app: 'node',
    expect: 'plain',
    route: 'data',
  },
]

function pathFor(route: Row['route'], size: SizeName): PathSpec {
  if (route === 'miss') return { kind: 'unique', prefix: `/miss/${size}?u=`, tag: '' }
  return { kind: 'static', path: `/${route}/${size}` }
}

/** The main matrix: every row at 2 KB and at 100 KB. */
export function mainMeasurements(): Measurement[] {
  const out: Measurement[] = []
  for (const size of ['2k', '100k'] as const) {
    for (const [group, rows] of [
      ['node', NODE],
      ['express', EXPRESS],
      ['koa', KOA],
      ['fastify', FASTIFY],
    ] as const) {
      for (const row of rows) {
        if (row.only2k === true && size !== '2k') continue
        out.push({
          id: `${group}/${row.kind}/${size}`,
          group,
          kind: row.kind,
          label: row.label,
          app: row.app,
          path: pathFor(row.route, size),
          size,
          expect: row.expect,
          route: row.route,
        })
      }
    }
  }
  return out
}

export const ENTRIES_SMALL = 1_000
export const ENTRIES_LARGE = 100_000

/** Hit throughput with 1 vs 200 rules, and with 1k vs 100k entries in L1 (Express, 2 KB). */
export function scalingMeasurements(): Measurement[] {
  const hit = (kind: string, label: string, app: string): Measurement => ({
    id: `scaling/${kind}/2k`,
    group: 'scaling',
    kind,
    label,
    app,
    path: { kind: 'static', path: '/data/2k' },
    size: '2k',
    expect: 'hit',
    route: 'data',
  })
  const entries = (count: number, hot: boolean): Measurement => {
    const n = count >= 1000 ? `${count / 1000}k` : String(count)
    const kind = `entries-${n}-${hot ? 'hot' : 'spread'}`
    return {
      id: `scaling/${kind}/2k`,
      group: 'scaling',
      kind,
      label: hot
        ? `Express + cachet L1 hits on one key, ${count.toLocaleString('en-US')} entries in L1`
        : `Express + cachet L1 hits spread over ${count.toLocaleString('en-US')} entries`,
      app: `express-${kind}`,
      path: hot
        ? { kind: 'static', path: '/items/7' }
        : { kind: 'cycle', prefix: '/items/', count },
      size: '2k',
      expect: 'hit',
      route: 'items',
      prefill: { route: 'items', count },
    }
  }
  return [
    hit('rules-1', 'Express + cachet L1 hit, 1 rule', 'express-rules-1'),
    hit(
      'rules-200',
      'Express + cachet L1 hit, 200 rules: 199 share `/data` with the hit rule, which is last',
      'express-rules-200',
    ),
    hit(
      'rules-200-distinct',
      'Express + cachet L1 hit, 200 rules: 199 with first segments of their own, then the hit rule',
      'express-rules-200-distinct',
    ),
    entries(ENTRIES_SMALL, false),
    entries(ENTRIES_LARGE, false),
    entries(ENTRIES_SMALL, true),
    entries(ENTRIES_LARGE, true),
  ]
}

/** The apps of the stampede: cachet and the anchors. */
export const STAMPEDE_APPS: { app: string; label: string; cachet: boolean }[] = [
  { app: 'express-cachet', label: 'Express + cachet (L1)', cachet: true },
  { app: 'express-cachet-l2', label: 'Express + cachet (L2 Redis, L1 off)', cachet: true },
  { app: 'koa-cachet', label: 'Koa + cachet (L1)', cachet: true },
  { app: 'koa-cachet-l2', label: 'Koa + cachet (L2 Redis, L1 off)', cachet: true },
  { app: 'fastify-cachet', label: 'Fastify + cachet (L1)', cachet: true },
  { app: 'express-apicache', label: 'Express + apicache (memory)', cachet: false },
  { app: 'express-apicache-redis', label: 'Express + apicache (Redis)', cachet: false },
  { app: 'koa-cash', label: 'Koa + koa-cash', cachet: false },
]
