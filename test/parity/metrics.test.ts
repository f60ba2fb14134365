import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Exposition, parseExposition } from '../support/prometheus-text'
import { sharedRedisUrl } from '../support/redis/shared'
import {
  adapters,
  type RequestSpec,
  type RunningShop,
  type ShopConfig,
  startShop,
} from '../support/shops'

// `GET /metrics` (CONTRACT.md) on both shops, on the memory tier alone and on
// memory + Redis: known traffic through real HTTP, then the exposition parsed
// and every counter asserted, against the origin's own call counts.

type StoreName = 'memory' | 'redis'

const stores: Array<{ name: StoreName; config: () => Partial<ShopConfig> }> = [
  { name: 'memory', config: () => ({}) },
  {
    name: 'redis',
    config: () => ({
      redisUrl: sharedRedisUrl(),
      redisPrefix: `metrics-${randomBytes(6).toString('hex')}`,
      redisLease: '200ms',
    }),
  },
]

const USER = 'metricsuser7f3a'
const LANG = 'langsecret9c1e'
const QUERY = 'querysecret2b7d'
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8'

/** The known traffic, with the `X-Cache` each request must get. */
const traffic: Array<{ request: RequestSpec; status: number; xCache: string | null }> = [
  { request: { path: `/products/1?lang=${LANG}&utm=${QUERY}` }, status: 200, xCache: 'MISS' },
  { request: { path: `/products/1?lang=${LANG}` }, status: 200, xCache: 'HIT' },
  { request: { path: '/products/2' }, status: 200, xCache: 'MISS' },
  // Credentials on a shared rule: bypassed (request side).
  {
    request: { path: '/products/2', headers: { authorization: `Bearer ${USER}` } },
    status: 200,
    xCache: 'BYPASS',
  },
  // A Set-Cookie response: not stored (response side).
  { request: { path: `/session?q=${QUERY}` }, status: 200, xCache: 'BYPASS' },
  // A per-user rule: keyed by the user, who must not show in the metrics.
  {
    request: { path: '/me/cart', headers: { authorization: `Bearer ${USER}` } },
    status: 200,
    xCache: 'MISS',
  },
  {
    request: { path: '/me/cart', headers: { authorization: `Bearer ${USER}` } },
    status: 200,
    xCache: 'HIT',
  },
  // A write: invalidates `product:1` and `products`.
  {
    request: { method: 'PUT', path: '/products/1', body: { price: 12.5 } },
    status: 200,
    xCache: null,
  },
  { request: { path: `/products/1?lang=${LANG}` }, status: 200, xCache: 'MISS' },
]

/** What the traffic above must leave in the counters, by rule. */
const expected = {
  hits: { product: 1, cart: 1 },
  misses: { product: 3, cart: 1, session: 0 },
  bypasses: [
    [{ rule: 'product', reason: 'credentials' }, 1],
    [{ rule: 'session', reason: 'set-cookie' }, 1],
  ],
  stores: { product: 3, cart: 1, session: 0 },
  /** Requests timed as hits and as misses (a vetoed response was a miss's lookup). */
  hitLatency: { product: 1, cart: 1 },
  missLatency: { product: 3, cart: 1, session: 1 },
} as const

/** The origin route each rule of the traffic caches. */
const ROUTE_OF: Record<string, string> = {
  product: 'GET /products/:id',
  cart: 'GET /me/cart',
  session: 'GET /session',
}

async function scrape(running: RunningShop): Promise<{ x: Exposition; text: string }> {
  const reply = await running.send({ path: '/metrics' })
  expect(reply.status).toBe(200)
  expect(reply.headers['content-type']).toBe(PROMETHEUS_TEXT)
  // No rule matches /metrics: the cache never touches it.
  expect(reply.headers['x-cache']).toBeUndefined()
  const text = reply.body.toString('utf8')
  return { x: parseExposition(text), text }
}

/** Scrapes until `done` holds (work that ends after the response: latencies, L2 writes). */
async function scrapeUntil(
  running: RunningShop,
  done: (x: Exposition) => boolean,
): Promise<{ x: Exposition; text: string }> {
  const deadline = performance.now() + 5_000
  let last = await scrape(running)
  while (!done(last.x) && performance.now() < deadline) {
    await sleep(10)
    last = await scrape(running)
  }
  return last
}

const sumOf = (x: Exposition, name: string, rule: string) =>
  x
    .series(name)
    .filter((s) => s.labels.rule === rule)
    .reduce((n, s) => n + s.value, 0)

describe.each(stores)('GET /metrics, $name store', (store) => {
  const names = new Map<string, string[]>()

  test.each(adapters)('$name shop: counters after known traffic', async ({ name, createShop }) => {
    const running = await startShop(createShop, store.config())
    try {
      for (const [i, step] of traffic.entries()) {
        const reply = await running.send(step.request)
        expect([i, reply.status, reply.headers['x-cache'] ?? null]).toEqual([
          i,
          step.status,
          step.xCache,
        ])
      }
      const tiers = store.name === 'redis' ? ['memory', 'shared'] : ['memory']
      const { x, text } = await scrapeUntil(
        running,
        (x) =>
          Object.entries(expected.missLatency).every(
            ([rule, n]) => x.histogram('cachet_miss_duration_seconds', { rule }).count >= n,
          ) &&
          tiers.every((tier) =>
            Object.entries(expected.stores).every(
              ([rule, n]) => (x.find('cachet_stores_total', { rule, tier }) ?? 0) >= n,
            ),
          ),
      )

      // A hit is counted on the tier that answered it. With Redis, the memory
      // copy is written once Redis accepted the fill (its fence), so a request
      // that arrives before that on the kept-alive socket is a shared-tier hit.
      for (const [rule, n] of Object.entries(expected.hits)) {
        const memory = x.value('cachet_hits_total', { rule, tier: 'memory' })
        const shared =
          store.name === 'redis' ? x.value('cachet_hits_total', { rule, tier: 'shared' }) : 0
        expect([rule, memory + shared]).toEqual([rule, n])
      }
      for (const [rule, n] of Object.entries(expected.misses))
        expect([rule, x.value('cachet_misses_total', { rule })]).toEqual([rule, n])
      expect(x.series('cachet_bypasses_total').map((s) => [s.labels, s.value])).toEqual(
        expected.bypasses,
      )
      for (const tier of tiers)
        for (const [rule, n] of Object.entries(expected.stores))
          expect([rule, tier, x.value('cachet_stores_total', { rule, tier })]).toEqual([
            rule,
            tier,
            n,
          ])
      // Rules the traffic never reached count nothing.
      for (const rule of ['products', 'asset', 'stream', 'status', 'slow', 'private']) {
        expect([
          rule,
          sumOf(x, 'cachet_hits_total', rule),
          sumOf(x, 'cachet_misses_total', rule),
        ]).toEqual([rule, 0, 0])
        expect(x.value('cachet_stale_total', { rule, reason: 'revalidate' })).toBe(0)
      }
      expect(x.value('cachet_invalidations_total', { outcome: 'done' })).toBe(1)
      expect(x.value('cachet_invalidations_total', { outcome: 'failed' })).toBe(0)
      expect(x.value('cachet_invalidation_targets_total', { kind: 'tags' })).toBe(2)
      expect(x.value('cachet_invalidation_targets_total', { kind: 'users' })).toBe(0)
      expect(x.value('cachet_l1_entries')).toBeGreaterThan(0)
      expect(x.value('cachet_l1_bytes')).toBeGreaterThan(0)
      expect(x.value('cachet_l1_max_bytes')).toBeGreaterThan(0)
      expect(x.value('cachet_l1_evictions_total')).toBe(0)

      // Latency histograms: one observation per request answered from the
      // cache, one per request that went to the origin for a fill.
      for (const [kind, counts] of [
        ['hit', expected.hitLatency],
        ['miss', expected.missLatency],
      ] as const) {
        for (const [rule, n] of Object.entries(counts)) {
          const h = x.histogram(`cachet_${kind}_duration_seconds`, { rule })
          expect([kind, rule, h.count]).toEqual([kind, rule, n])
          expect(h.buckets.at(-1)).toEqual([Infinity, n])
          for (let i = 1; i < h.buckets.length; i++)
            expect(h.buckets[i]?.[1]).toBeGreaterThanOrEqual(h.buckets[i - 1]?.[1] as number)
          expect(h.sum).toBeGreaterThan(0)
        }
      }

      if (store.name === 'redis') {
        for (const operation of ['read', 'write', 'abandon', 'invalidate'])
          expect([operation, x.value('cachet_l2_errors_total', { operation })]).toEqual([
            operation,
            0,
          ])
        expect(x.value('cachet_l2_timeouts_total')).toBe(0)
        expect(x.value('cachet_l2_breaker_state')).toBe(0)
        expect(x.value('cachet_l2_breaker_opened_total')).toBe(0)
        expect(x.value('cachet_bus_trusted')).toBe(1)
      } else {
        expect([...x.types.keys()].filter((n) => /_(l2|bus)_/.test(n))).toEqual([])
      }

      // The origin ran exactly for the misses and the bypasses (and the write).
      const calls = await running.calls()
      for (const [rule, route] of Object.entries(ROUTE_OF)) {
        const fromMetrics =
          x.value('cachet_misses_total', { rule }) +
          sumOf(x, 'cachet_bypasses_total', rule) +
          sumOf(x, 'cachet_stale_total', rule)
        expect([rule, calls.byRoute[route] ?? 0]).toEqual([rule, fromMetrics])
      }
      expect(calls.byRoute['PUT /products/:id']).toBe(1)
      expect(calls.total).toBe(7)

      // Labels are bounded: never a key, a path, a query value or a user.
      for (const secret of [USER, LANG, QUERY, '/products', '/me/cart', 'user:', 'product:'])
        expect(text).not.toContain(secret)

      // Scraping is not a request the cache or the origin counts.
      const again = await scrape(running)
      expect(again.x.value('cachet_misses_total', { rule: 'product' })).toBe(3)
      expect((await running.calls()).total).toBe(7)
      names.set(name, [...x.types.keys()])
    } finally {
      await running.close()
    }
  })

  test('both shops expose the same metric names', () => {
    expect(names.get('express')).toBeDefined()
    expect(names.get('koa')).toEqual(names.get('express'))
  })
})
