import { CacheEngine } from '../../src/engine/engine'
import type { CacheEvents } from '../../src/observe/events'
import { Histogram, LATENCY_BUCKETS } from '../../src/observe/metrics'
import type { CacheRule } from '../../src/rules/types'
import { FakeTier } from '../fake-tier'
import { exchangeFor, FakeOrigin, request, sleep } from '../support'

// The engine's counters, decision events, explain() and recent invalidations:
// what an operator sees, driven by known traffic through the engine.

const rules: CacheRule[] = [
  {
    name: 'product',
    path: '/products/:id',
    ttl: 60,
    staleWhileRevalidate: 30,
    tags: ['product:{params.id}'],
    key: { query: ['lang'] },
  },
  { name: 'list', path: '/products', ttl: 60, tags: ['products'] },
  { name: 'orders', path: '/me/orders', ttl: 60, perUser: true },
  { name: 'greeting', path: '/greeting', ttl: 60, key: { headers: ['accept-language'] } },
  { name: 'product-write', path: '/products/:id', invalidates: ['product:{params.id}'] },
]

type Recorded = { [K in keyof CacheEvents]?: CacheEvents[K][0][] }

function record(engine: CacheEngine): Recorded {
  const seen: Recorded = {}
  const names: Array<keyof CacheEvents> = ['hit', 'miss', 'bypass', 'store', 'invalidate']
  for (const name of names) {
    seen[name] = []
    const push = (e: unknown) => {
      ;(seen[name] as unknown[]).push(e)
    }
    ;(engine.on as (event: string, listener: (e: unknown) => void) => unknown).call(
      engine,
      name,
      push,
    )
  }
  return seen
}

afterEach(() => jest.restoreAllMocks())

describe('per-rule counters', () => {
  test('known traffic: hits by tier, misses, bypasses by reason, stores, invalidations', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const seen = record(engine)

    expect((await request(engine, origin, '/products/1')).outcome).toBe('miss')
    expect((await request(engine, origin, '/products/1')).outcome).toBe('hit')
    expect((await request(engine, origin, '/products/1?utm=x')).outcome).toBe('hit')
    // A request with credentials is bypassed (request side).
    const credentials = await request(engine, origin, '/products/2', {
      headers: { authorization: 'Bearer u' },
    })
    expect(credentials.outcome).toBe('bypass:credentials')
    // A response with Set-Cookie is vetoed (response side).
    await request(engine, origin, '/products', {
      respond: { headers: { 'set-cookie': 'a=b' } },
    })
    // Per-user without a user: bypassed.
    expect((await request(engine, origin, '/me/orders')).outcome).toBe('bypass:no-user')
    await request(engine, origin, '/products/1', { method: 'PUT' })
    expect((await request(engine, origin, '/products/1')).outcome).toBe('miss')
    // Two fills, the bypassed and vetoed requests, and the write's own handler.
    expect(origin.calls).toBe(6)

    const stats = engine.stats()
    const product = stats.rules.find((r) => r.name === 'product')
    expect(product).toEqual({
      name: 'product',
      hits: { memory: 2, shared: 0 },
      misses: 2,
      stale: { revalidate: 0, error: 0, timeout: 0 },
      bypasses: { credentials: 1 },
      stores: { memory: 2, shared: 0 },
      hitRatio: 0.5,
      savedSeconds: expect.any(Number),
    })
    expect(stats.rules.find((r) => r.name === 'list')).toMatchObject({
      misses: 0,
      bypasses: { 'set-cookie': 1 },
      stores: { memory: 0, shared: 0 },
    })
    expect(stats.rules.find((r) => r.name === 'orders')?.bypasses).toEqual({ 'no-user': 1 })
    // Write rules have no counters of their own in the per-rule stats.
    expect(stats.rules.map((r) => r.name)).toEqual(['product', 'list', 'orders', 'greeting'])
    expect(stats.invalidations).toEqual({
      done: 1,
      failed: 0,
      deferred: 0,
      tags: 1,
      patterns: 0,
      users: 0,
      tenants: 0,
    })

    expect(seen.hit).toEqual([
      { rule: 'product', tier: 'memory' },
      { rule: 'product', tier: 'memory' },
    ])
    expect(seen.miss?.map((e) => [e.rule, e.stored])).toEqual([
      ['product', true],
      ['product', true],
    ])
    expect(seen.bypass).toEqual([
      { rule: 'product', reason: 'credentials', side: 'request' },
      { rule: 'list', reason: 'set-cookie', side: 'response' },
      { rule: 'orders', reason: 'no-user', side: 'request' },
    ])
    expect(seen.store).toEqual([
      { rule: 'product', tier: 'memory' },
      { rule: 'product', tier: 'memory' },
    ])
    expect(seen.invalidate).toHaveLength(1)
    expect(seen.invalidate?.[0]).toMatchObject({
      by: 'rule product-write',
      tags: ['product:1'],
      ok: true,
    })
  })

  test('origin time saved: hits times the mean origin time of the rule’s fills', async () => {
    const engine = new CacheEngine({ rules })
    const { ex, m } = exchangeFor(engine, '/products/7')
    const origin = new FakeOrigin()
    const first = engine.lookup(m, ex)
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const send = origin.open(first.fill)
    await sleep(30)
    send()
    for (let i = 0; i < 3; i++) await request(engine, origin, '/products/7')
    expect(origin.calls).toBe(1)
    const product = engine.stats().rules[0]
    // Three hits, each saving the ~30 ms the one fill took.
    expect(product?.savedSeconds).toBeGreaterThanOrEqual(3 * 0.025)
    expect(product?.savedSeconds).toBeLessThan(3 * 1)
    expect(engine.metrics[0]?.originFills).toBe(1)
  })

  test('a failed invalidation is counted as failed and recorded with who asked', async () => {
    const tier = new FakeTier()
    tier.behaviour.invalidate = 'fail'
    const engine = new CacheEngine({ rules, store: { l2: tier } })
    await expect(engine.invalidate({ tags: ['x'] }, { by: 'deploy-bot' })).rejects.toThrow()
    await engine.invalidate({ user: 'u1', pattern: '/products/*' }).catch(() => {})
    expect(engine.stats().invalidations).toEqual({
      done: 0,
      failed: 2,
      deferred: 0,
      tags: 0,
      patterns: 0,
      users: 0,
      tenants: 0,
    })
    const recent = engine.recentInvalidations()
    expect(recent.map((r) => [r.by, r.ok, r.tags, r.users, r.patterns])).toEqual([
      ['deploy-bot', false, ['x'], [], []],
      ['api', false, [], ['u1'], ['/products/*']],
    ])
    tier.behaviour.invalidate = 'ok'
    await engine.invalidate({ tags: ['y'] })
    expect(engine.stats().invalidations).toMatchObject({ done: 1, failed: 2, tags: 1 })
    await engine.close()
  })

  test('recent invalidations keep the last 50', async () => {
    const engine = new CacheEngine({ rules })
    for (let i = 0; i < 60; i++) await engine.invalidate({ tags: [`t${i}`] })
    const recent = engine.recentInvalidations()
    expect(recent).toHaveLength(50)
    expect(recent[0]?.tags).toEqual(['t10'])
    expect(recent[49]?.tags).toEqual(['t59'])
  })

  test('hits and misses from the shared tier are counted by tier', async () => {
    const tier = new FakeTier()
    const a = new CacheEngine({ rules, store: { l2: tier } })
    const b = new CacheEngine({ rules, store: { l2: tier } })
    const origin = new FakeOrigin()
    expect((await request(a, origin, '/products/3')).outcome).toBe('miss')
    // The write to the shared tier completes in the background.
    for (let i = 0; i < 50 && tier.entries.size === 0; i++) await sleep(5)
    expect((await request(b, origin, '/products/3')).outcome).toBe('hit')
    expect((await request(b, origin, '/products/3')).outcome).toBe('hit')
    expect(origin.calls).toBe(1)
    expect(a.stats().rules[0]).toMatchObject({ misses: 1, stores: { memory: 1, shared: 1 } })
    expect(b.stats().rules[0]).toMatchObject({ hits: { memory: 1, shared: 1 }, misses: 0 })
    await a.close()
    await b.close()
  })
})

describe('latency histograms', () => {
  test('observe() fills the rule’s hit or miss histogram', () => {
    const engine = new CacheEngine({ rules })
    const rule = engine.rules.rules[0]
    if (rule?.kind !== 'cache') throw new Error('expected a cache rule')
    engine.observe(rule, 'hit', 0.0002)
    engine.observe(rule, 'hit', 0.003)
    engine.observe(rule, 'miss', 0.2)
    const m = engine.metrics[0]
    expect(m?.hitLatency.count).toBe(2)
    expect(m?.missLatency.count).toBe(1)
    expect(m?.hitLatency.sum).toBeCloseTo(0.0032, 6)
  })

  test('buckets are cumulative, end at +Inf, and count every observation', () => {
    const h = new Histogram()
    for (const s of [0.00005, 0.0001, 0.0003, 0.02, 0.02, 7, 100]) h.observe(s)
    const cumulative = h.cumulative()
    expect(cumulative).toHaveLength(LATENCY_BUCKETS.length + 1)
    expect(cumulative.at(-1)).toEqual([Infinity, 7])
    // 0.0001 falls into its own bucket (le is inclusive).
    expect(cumulative[0]).toEqual([0.0001, 2])
    expect(cumulative.find(([le]) => le === 0.025)?.[1]).toBe(5)
    expect(cumulative.find(([le]) => le === 10)?.[1]).toBe(6)
    for (let i = 1; i < cumulative.length; i++)
      expect(cumulative[i]?.[1]).toBeGreaterThanOrEqual(cumulative[i - 1]?.[1] as number)
  })
})

describe('explain()', () => {
  test('no rule', () => {
    const engine = new CacheEngine({ rules })
    expect(engine.explain({ url: '/nothing' })).toEqual({
      method: 'GET',
      path: '/nothing',
      matched: false,
    })
  })

  test('a write rule: what its 2xx would invalidate', () => {
    const engine = new CacheEngine({ rules })
    expect(engine.explain({ method: 'put', url: '/products/9' })).toMatchObject({
      method: 'PUT',
      matched: true,
      rule: { name: 'product-write', kind: 'write' },
      invalidates: { tags: ['product:9'], patterns: [], users: [] },
    })
  })

  test('a cache rule: key components, ignored query, tags, memory state and the last decision', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const before = engine.explain({ url: '/products/1?lang=fr&utm=x' })
    expect(before).toEqual({
      method: 'GET',
      path: '/products/1',
      matched: true,
      rule: {
        name: 'product',
        path: '/products/:id',
        kind: 'cache',
        ttlSeconds: 60,
        staleWhileRevalidateSeconds: 30,
        staleIfErrorSeconds: 0,
        perUser: false,
        statuses: [200],
        maxBodySize: 1024 * 1024,
      },
      key: {
        path: '/products/1',
        query: [['lang', 'fr']],
        ignoredQuery: ['utm'],
        headers: [],
        perUser: false,
      },
      tags: ['product:1'],
      memory: { state: 'absent' },
    })
    await request(engine, origin, '/products/1?lang=fr')
    const after = engine.explain({ url: '/products/1?lang=fr&utm=y' })
    expect(after.memory).toMatchObject({ state: 'fresh', ageSeconds: 0, ttlSeconds: 60 })
    expect(after.last).toEqual({ at: expect.any(Number), stored: true })

    // 61 s later: inside stale-while-revalidate.
    const now = Date.now()
    jest.spyOn(Date, 'now').mockReturnValue(now + 61_000)
    expect(engine.explain({ url: '/products/1?lang=fr' }).memory).toMatchObject({
      state: 'stale-while-revalidate',
      ttlSeconds: -1,
    })
    expect(origin.calls).toBe(1)
  })

  test('why a response was not stored, and why a request bypasses', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/products', { respond: { headers: { 'set-cookie': 'a=b' } } })
    expect(engine.explain({ url: '/products' }).last).toEqual({
      at: expect.any(Number),
      stored: false,
      reason: 'set-cookie',
    })
    await request(engine, origin, '/products/5', { respond: { status: 503 } })
    expect(engine.explain({ url: '/products/5' }).last).toMatchObject({
      stored: false,
      reason: 'status',
    })
    expect(engine.explain({ url: '/products/5', headers: { cookie: 'session=1' } })).toMatchObject({
      bypass: 'credentials',
    })
    expect(origin.calls).toBe(2)
  })

  test('keyed headers are shown; a per-user key says so without the user id', () => {
    const engine = new CacheEngine({ rules })
    expect(
      engine.explain({ url: '/greeting', headers: { 'accept-language': 'fr' } }).key,
    ).toMatchObject({ headers: [['accept-language', 'fr']] })
    const mine = engine.explain({ url: '/me/orders', user: 'user-secret-42' })
    expect(mine.key?.perUser).toBe(true)
    expect(JSON.stringify(mine)).not.toContain('user-secret-42')
    expect(engine.explain({ url: '/me/orders' }).bypass).toBe('no-user')
  })

  test('explain() changes nothing: no counters, no recency, no fill', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    engine.explain({ url: '/products/1' })
    expect(engine.stats().rules[0]).toMatchObject({ hits: { memory: 0 }, misses: 0 })
    expect((await request(engine, origin, '/products/1')).outcome).toBe('miss')
    expect(origin.calls).toBe(1)
  })
})
