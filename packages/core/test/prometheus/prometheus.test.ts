import {
  Counter,
  Gauge,
  register as globalRegistry,
  type OpenMetricsContentType,
  Registry,
} from 'prom-client'
import { type Exposition, parseExposition } from '../../../../test/support/prometheus-text'
import { CacheEngine } from '../../src/engine/engine'
import { splitUrl } from '../../src/engine/exchange'
import { CachetConfigError } from '../../src/errors'
import { LATENCY_BUCKETS } from '../../src/observe/metrics'
import { prometheusMetrics } from '../../src/prometheus'
import type { CacheRule, CompiledCacheRule } from '../../src/rules/types'
import { FakeTier } from '../fake-tier'
import { FakeOrigin, type Outcome, type RequestOptions, request, sleep } from '../support'

// `@cachet/core/prometheus`: known traffic through the engine, then the
// exposition text parsed and asserted series by series.

const rules: CacheRule[] = [
  {
    name: 'product',
    path: '/products/:id',
    ttl: 60,
    tags: ['product:{params.id}'],
    key: { query: ['lang'] },
  },
  { name: 'list', path: '/products', ttl: 60, tags: ['products'] },
  { name: 'orders', path: '/me/orders', ttl: 60, perUser: true, tags: ['user:{user}'] },
  { name: 'product-write', path: '/products/:id', invalidates: ['product:{params.id}'] },
]

const CACHE_RULES = ['product', 'list', 'orders']
const USER = 'user-secret-4242'
const LANG = 'lang-secret-xx'
const QUERY = 'query-secret-value'
const ID = 'id-secret-9'

/** What an adapter records: hit (and stale) and miss latencies, here fixed per kind. */
const HIT_SECONDS = 0.0002
const MISS_SECONDS = 0.03

/** One request through the engine, with its latency observed as an adapter would. */
async function send(
  engine: CacheEngine,
  origin: FakeOrigin,
  url: string,
  opts: RequestOptions = {},
): Promise<Outcome> {
  const out = await request(engine, origin, url, opts)
  const m = engine.match(opts.method ?? 'GET', splitUrl(url).path)
  if (m?.rule.kind === 'cache') {
    const rule = m.rule as CompiledCacheRule
    if (out.outcome === 'hit' || out.outcome.startsWith('stale:'))
      engine.observe(rule, 'hit', HIT_SECONDS)
    else if (out.outcome === 'miss') engine.observe(rule, 'miss', MISS_SECONDS)
  }
  return out
}

async function scrape(registry: Registry): Promise<Exposition> {
  return parseExposition(await registry.metrics())
}

const ALLOWED_LABELS = new Set(['rule', 'tier', 'reason', 'operation', 'outcome', 'kind', 'le'])

/** Every label is one of the bounded ones, and every `rule` label a cache rule's name. */
function expectBoundedLabels(exposition: Exposition): void {
  for (const s of exposition.samples) {
    for (const label of Object.keys(s.labels)) expect(ALLOWED_LABELS).toContain(label)
    if (s.labels.rule !== undefined) expect(CACHE_RULES).toContain(s.labels.rule)
  }
}

afterEach(() => jest.restoreAllMocks())

describe('prometheusMetrics(): counters after known traffic', () => {
  test('hits by tier, misses, bypasses by reason, stores, invalidations, L1 gauges, exactly', async () => {
    const engine = new CacheEngine({ rules, store: { l1: { maxBytes: 1_000_000 } } })
    const registry = prometheusMetrics(engine)
    const origin = new FakeOrigin()

    expect((await send(engine, origin, `/products/1?lang=${LANG}&utm=${QUERY}`)).outcome).toBe(
      'miss',
    )
    expect((await send(engine, origin, `/products/1?lang=${LANG}`)).outcome).toBe('hit')
    expect((await send(engine, origin, `/products/1?utm=${QUERY}&lang=${LANG}`)).outcome).toBe(
      'hit',
    )
    expect(
      (await send(engine, origin, '/products/2', { headers: { authorization: `Bearer ${USER}` } }))
        .outcome,
    ).toBe('bypass:credentials')
    expect(
      (
        await send(engine, origin, `/products?q=${QUERY}`, {
          respond: { headers: { 'set-cookie': `sid=${QUERY}` } },
        })
      ).outcome,
    ).toBe('miss')
    expect((await send(engine, origin, '/me/orders', { user: USER })).outcome).toBe('miss')
    expect((await send(engine, origin, '/me/orders', { user: USER })).outcome).toBe('hit')
    expect((await send(engine, origin, '/me/orders')).outcome).toBe('bypass:no-user')
    await send(engine, origin, '/products/1', { method: 'PUT' })
    expect((await send(engine, origin, `/products/1?lang=${LANG}`)).outcome).toBe('miss')
    await engine.invalidate({ user: USER })
    await engine.invalidate({ pattern: `/products/${QUERY}*` })
    expect((await send(engine, origin, '/me/orders', { user: USER })).outcome).toBe('miss')
    // Fills: product ×2, list (vetoed), orders ×2; bypasses: 2; the write: 1.
    expect(origin.calls).toBe(8)

    const x = await scrape(registry)
    const perRule = (name: string, values: Record<string, number>, label?: string) => {
      for (const [rule, value] of Object.entries(values)) {
        const [r, l] = rule.split('/') as [string, string?]
        expect([
          rule,
          x.value(name, label ? { rule: r, [label]: l as string } : { rule: r }),
        ]).toEqual([rule, value])
      }
    }
    perRule(
      'cachet_hits_total',
      { 'product/memory': 2, 'list/memory': 0, 'orders/memory': 1 },
      'tier',
    )
    // No shared tier: no `tier="shared"` series.
    expect(x.series('cachet_hits_total')).toHaveLength(3)
    perRule('cachet_misses_total', { product: 2, list: 0, orders: 2 })
    perRule(
      'cachet_stores_total',
      { 'product/memory': 2, 'list/memory': 0, 'orders/memory': 2 },
      'tier',
    )
    expect(x.series('cachet_bypasses_total').map((s) => [s.labels, s.value])).toEqual([
      [{ rule: 'product', reason: 'credentials' }, 1],
      [{ rule: 'list', reason: 'set-cookie' }, 1],
      [{ rule: 'orders', reason: 'no-user' }, 1],
    ])
    for (const rule of CACHE_RULES) {
      expect(x.value('cachet_stale_total', { rule, reason: 'revalidate' })).toBe(0)
      expect(x.value('cachet_stale_total', { rule, reason: 'error' })).toBe(0)
    }
    // The origin calls of cache rules are exactly the misses and the bypasses.
    const misses = x.series('cachet_misses_total').reduce((n, s) => n + s.value, 0)
    const bypasses = x.series('cachet_bypasses_total').reduce((n, s) => n + s.value, 0)
    expect(misses + bypasses).toBe(origin.calls - 1)

    expect(x.value('cachet_invalidations_total', { outcome: 'done' })).toBe(3)
    expect(x.value('cachet_invalidations_total', { outcome: 'failed' })).toBe(0)
    expect(x.value('cachet_invalidation_targets_total', { kind: 'tags' })).toBe(1)
    expect(x.value('cachet_invalidation_targets_total', { kind: 'patterns' })).toBe(1)
    expect(x.value('cachet_invalidation_targets_total', { kind: 'users' })).toBe(1)

    const l1 = engine.stats().l1
    expect(x.value('cachet_l1_entries')).toBe(l1?.entries)
    expect(x.value('cachet_l1_entries')).toBeGreaterThan(0)
    expect(x.value('cachet_l1_bytes')).toBe(l1?.bytes)
    expect(x.value('cachet_l1_bytes')).toBeGreaterThan(0)
    expect(x.value('cachet_l1_max_bytes')).toBe(1_000_000)
    expect(x.value('cachet_l1_evictions_total')).toBe(0)
    expect(x.value('cachet_origin_fills_total', { rule: 'product' })).toBe(2)
    expect(x.value('cachet_origin_fills_total', { rule: 'list' })).toBe(0)
    expect(x.value('cachet_origin_fill_seconds_total', { rule: 'product' })).toBeGreaterThanOrEqual(
      0,
    )
    expect(x.value('cachet_origin_saved_seconds', { rule: 'product' })).toBe(
      engine.stats().rules[0]?.savedSeconds,
    )
    expect(x.value('cachet_revalidations_started_total')).toBe(0)
    expect(x.value('cachet_revalidations_total', { outcome: 'stored' })).toBe(0)
    // Memory only: no L2 metrics at all.
    expect([...x.types.keys()].filter((n) => n.includes('l2_') || n.includes('bus_'))).toEqual([])

    expect(x.types.get('cachet_hits_total')).toBe('counter')
    expect(x.types.get('cachet_l1_bytes')).toBe('gauge')
    expect(x.types.get('cachet_origin_saved_seconds')).toBe('gauge')
    expect(x.types.get('cachet_hit_duration_seconds')).toBe('histogram')
    for (const name of x.types.keys()) expect(x.help.get(name)).toEqual(expect.any(String))
    expectBoundedLabels(x)
  })

  test('no key, path, query value, tag or user id appears anywhere in the text', async () => {
    const engine = new CacheEngine({ rules })
    const registry = prometheusMetrics(engine)
    const origin = new FakeOrigin()
    for (let i = 0; i < 2; i++) {
      await send(engine, origin, `/products/${ID}?lang=${LANG}&utm=${QUERY}`)
      await send(engine, origin, '/me/orders', { user: USER })
      await send(engine, origin, '/me/orders', { user: `${USER}-2` })
      await send(engine, origin, `/products?q=${QUERY}`, {
        headers: { cookie: `session=${QUERY}` },
      })
    }
    await send(engine, origin, `/products/${ID}`, { method: 'PUT' })
    await engine.invalidate({ user: USER, tags: [`tag-${QUERY}`] })
    const text = await registry.metrics()
    for (const secret of [USER, LANG, QUERY, ID, '/products', '/me/orders', 'user:', 'product:'])
      expect(text).not.toContain(secret)
    const x = parseExposition(text)
    expect(x.value('cachet_hits_total', { rule: 'orders', tier: 'memory' })).toBe(2)
    expect(x.value('cachet_bypasses_total', { rule: 'list', reason: 'credentials' })).toBe(2)
    expectBoundedLabels(x)
  })
})

describe('prometheusMetrics(): latency histograms', () => {
  test('real histograms: cumulative buckets, +Inf equal to _count, one observation per answer', async () => {
    const engine = new CacheEngine({ rules })
    const registry = prometheusMetrics(engine)
    const origin = new FakeOrigin()
    await send(engine, origin, '/products/1')
    for (let i = 0; i < 4; i++) await send(engine, origin, '/products/1')
    await send(engine, origin, '/products', { respond: { headers: { 'set-cookie': 'a=b' } } })
    await send(engine, origin, '/products/9', { headers: { authorization: 'Bearer x' } })

    const x = await scrape(registry)
    const hit = x.histogram('cachet_hit_duration_seconds', { rule: 'product' })
    const miss = x.histogram('cachet_miss_duration_seconds', { rule: 'product' })
    // Requests answered from the cache: 4; that went to the origin to fill: 1.
    expect(hit.count).toBe(4)
    expect(miss.count).toBe(1)
    expect(hit.sum).toBeCloseTo(4 * HIT_SECONDS, 9)
    expect(miss.sum).toBeCloseTo(MISS_SECONDS, 9)
    for (const h of [hit, miss]) {
      expect(h.buckets.map(([le]) => le)).toEqual([...LATENCY_BUCKETS, Infinity])
      for (let i = 1; i < h.buckets.length; i++)
        expect(h.buckets[i]?.[1]).toBeGreaterThanOrEqual(h.buckets[i - 1]?.[1] as number)
      expect(h.buckets.at(-1)?.[1]).toBe(h.count)
    }
    // Each observation lands in the first bucket whose bound holds it.
    const at = (h: typeof hit, le: number) => h.buckets.find(([b]) => b === le)?.[1]
    expect(at(hit, 0.0001)).toBe(0)
    expect(at(hit, 0.00025)).toBe(4)
    expect(at(miss, 0.025)).toBe(0)
    expect(at(miss, 0.05)).toBe(1)
    // A vetoed response was still a lookup that went to the origin: a miss's latency.
    expect(x.histogram('cachet_miss_duration_seconds', { rule: 'list' }).count).toBe(1)
    // A bypassed request is timed by neither.
    expect(x.histogram('cachet_hit_duration_seconds', { rule: 'orders' }).count).toBe(0)
    // One series per cache rule, none for the write rule.
    expect(x.series('cachet_hit_duration_seconds_count').map((s) => s.labels.rule)).toEqual(
      CACHE_RULES,
    )
    expect(x.series('cachet_miss_duration_seconds_bucket')).toHaveLength(
      CACHE_RULES.length * (LATENCY_BUCKETS.length + 1),
    )
  })
})

describe('prometheusMetrics(): read at scrape time', () => {
  test('values follow the engine between scrapes; the request path never calls prom-client', async () => {
    const engine = new CacheEngine({ rules })
    const registry = prometheusMetrics(engine)
    const origin = new FakeOrigin()
    expect(
      (await scrape(registry)).value('cachet_hits_total', { rule: 'product', tier: 'memory' }),
    ).toBe(0)

    const calls = [
      jest.spyOn(Counter.prototype, 'reset'),
      jest.spyOn(Counter.prototype, 'get'),
      jest.spyOn(Gauge.prototype, 'set'),
      jest.spyOn(Gauge.prototype, 'reset'),
    ]
    await send(engine, origin, '/products/1')
    for (let i = 0; i < 3; i++) await send(engine, origin, '/products/1')
    await engine.invalidate({ tags: ['t'] })
    for (const spy of calls) expect(spy).not.toHaveBeenCalled()

    const x = await scrape(registry)
    expect(x.value('cachet_hits_total', { rule: 'product', tier: 'memory' })).toBe(3)
    expect(x.value('cachet_misses_total', { rule: 'product' })).toBe(1)
    expect(x.value('cachet_invalidations_total', { outcome: 'done' })).toBe(1)
    for (const spy of calls) expect(spy).toHaveBeenCalled()
    // A second scrape with no traffic in between says the same.
    expect(await registry.metrics()).toBe(await registry.metrics())
  })

  test('getMetricsAsJSON() and an OpenMetrics registry work too', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await send(engine, origin, '/products/1')
    await send(engine, origin, '/products/1')
    const openMetrics = new Registry<OpenMetricsContentType>()
    openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    const open = prometheusMetrics(engine, { registry: openMetrics })
    expect(open).toBe(openMetrics)
    expect(open.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
    const text = await open.metrics()
    expect(text).toContain('# TYPE cachet_hits counter')
    expect(text).toContain('cachet_hits_total{rule="product",tier="memory"} 1')
    expect(text).toContain('cachet_hit_duration_seconds_count{rule="product"} 1')
    expect(text.endsWith('# EOF\n')).toBe(true)

    const json = await prometheusMetrics(engine).getMetricsAsJSON()
    const hist = json.find((m) => m.name === 'cachet_miss_duration_seconds')
    expect(hist).toMatchObject({ type: 'histogram', aggregator: 'sum' })
    expect(
      (hist as unknown as { values: Array<{ metricName: string; labels: object; value: number }> })
        .values,
    ).toContainEqual({
      metricName: 'cachet_miss_duration_seconds_count',
      labels: { rule: 'product' },
      value: 1,
    })
  })
})

describe('prometheusMetrics(): the shared tier', () => {
  test('hits and stores by tier, L2 errors by operation, timeouts, breaker state, bus trust', async () => {
    const tier = new FakeTier()
    tier.hangMs = 10
    const a = new CacheEngine({ rules, store: { l2: tier }, breaker: { failures: 3 } })
    const b = new CacheEngine({ rules, store: { l2: tier }, breaker: { failures: 3 } })
    const registry = prometheusMetrics(b)
    const origin = new FakeOrigin()

    expect((await send(a, origin, '/products/3')).outcome).toBe('miss')
    for (let i = 0; i < 50 && tier.entries.size === 0; i++) await sleep(5)
    expect((await send(b, origin, '/products/3')).outcome).toBe('hit')
    expect((await send(b, origin, '/products/3')).outcome).toBe('hit')

    let x = await scrape(registry)
    expect(x.value('cachet_hits_total', { rule: 'product', tier: 'shared' })).toBe(1)
    expect(x.value('cachet_hits_total', { rule: 'product', tier: 'memory' })).toBe(1)
    // b filled nothing: a shared hit copied into its memory tier is not a store.
    expect(x.value('cachet_stores_total', { rule: 'product', tier: 'memory' })).toBe(0)
    expect(x.value('cachet_stores_total', { rule: 'product', tier: 'shared' })).toBe(0)
    expect(x.value('cachet_l2_breaker_state')).toBe(0)
    expect(x.value('cachet_bus_trusted')).toBe(1)
    for (const operation of ['read', 'write', 'abandon', 'invalidate'])
      expect(x.value('cachet_l2_errors_total', { operation })).toBe(0)

    // One read past its deadline, two failed reads: the breaker opens on the third.
    tier.behaviour.read = 'hang'
    await send(b, origin, '/products/4')
    tier.behaviour.read = 'fail'
    await send(b, origin, '/products/5')
    await send(b, origin, '/products/6')
    await send(b, origin, '/products/7')
    tier.isTrusted = false

    x = await scrape(registry)
    expect(x.value('cachet_l2_errors_total', { operation: 'read' })).toBe(3)
    expect(x.value('cachet_l2_timeouts_total')).toBe(1)
    expect(x.value('cachet_l2_breaker_state')).toBe(2)
    expect(x.value('cachet_l2_breaker_opened_total')).toBe(1)
    expect(x.value('cachet_l2_breaker_rejected_total')).toBeGreaterThanOrEqual(1)
    expect(x.value('cachet_bus_trusted')).toBe(0)
    expect(x.types.get('cachet_l2_breaker_state')).toBe('gauge')
    expectBoundedLabels(x)
    await a.close()
    await b.close()
  })

  test('without a memory tier: no l1 metrics and only tier="shared"', async () => {
    const engine = new CacheEngine({ rules, store: { l1: false, l2: new FakeTier() } })
    const x = await scrape(prometheusMetrics(engine))
    expect([...x.types.keys()].filter((n) => n.includes('_l1_'))).toEqual([])
    expect(x.series('cachet_hits_total').map((s) => s.labels.tier)).toEqual([
      'shared',
      'shared',
      'shared',
    ])
    await engine.close()
  })
})

describe('prometheusMetrics(): registries and arguments', () => {
  test('a new registry by default, never the global one', async () => {
    const engine = new CacheEngine({ rules })
    const before = globalRegistry.getMetricsAsArray().length
    const one = prometheusMetrics(engine)
    const two = prometheusMetrics(engine)
    expect(one).toBeInstanceOf(Registry)
    expect(one).not.toBe(two)
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(before)
  })

  test('twice on one registry: a clear error naming the metric, and nothing half-registered', async () => {
    const engine = new CacheEngine({ rules })
    const registry = new Registry()
    const mine = new Counter({ name: 'app_requests_total', help: 'x', registers: [registry] })
    expect(prometheusMetrics(engine, { registry })).toBe(registry)
    const count = registry.getMetricsAsArray().length
    let error: unknown
    try {
      prometheusMetrics(engine, { registry })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(CachetConfigError)
    expect((error as CachetConfigError).code).toBe('CACHET_INVALID_OPTION')
    expect((error as Error).message).toMatch(/already has a metric named "cachet_hits_total"/)
    expect((error as Error).message).toMatch(/prefix/)
    expect(registry.getMetricsAsArray()).toHaveLength(count)
    // A second cache on the same registry, under its own prefix.
    const other = new CacheEngine({ rules })
    prometheusMetrics(other, { registry, prefix: 'other_cache_' })
    mine.inc()
    const x = await scrape(registry)
    expect(x.value('app_requests_total')).toBe(1)
    expect(x.value('other_cache_misses_total', { rule: 'product' })).toBe(0)
    expect(x.value('cachet_misses_total', { rule: 'product' })).toBe(0)
  })

  test('takes the middleware (anything with .engine) or the engine; refuses anything else', async () => {
    const engine = new CacheEngine({ rules })
    const middleware = Object.defineProperty(() => {}, 'engine', { value: engine })
    const x = await scrape(prometheusMetrics(middleware as unknown as { engine: CacheEngine }))
    expect(x.series('cachet_misses_total')).toHaveLength(3)
    for (const bad of [undefined, null, {}, { engine: {} }, 'cache'])
      expect(() => prometheusMetrics(bad as unknown as CacheEngine)).toThrow(
        /expected the cache middleware \(with an "engine"\) or a CacheEngine/,
      )
    expect(() => prometheusMetrics(engine, { prefix: 'bad-prefix' })).toThrow(/option "prefix"/)
    expect(() => prometheusMetrics(engine, { prefix: '9x' })).toThrow(CachetConfigError)
    const plain = await scrape(prometheusMetrics(engine, { prefix: '' }))
    expect(plain.types.get('hits_total')).toBe('counter')
  })
})
