import { randomBytes } from 'node:crypto'
import type { RequestListener } from 'node:http'
import { RedisKeyspace, redisTier } from '@cachet/core/redis'
import { type CacheHandle, type CacheRule, cacheMiddleware } from '@cachet/express'
import express from 'express'
import { Redis } from 'ioredis'
import request from 'supertest'
import { runCli } from '../cli/run-cli'
import { sharedRedisUrl } from '../support/redis/shared'

// Two apps on one Redis, told apart only by the engine's `namespace` (their
// redisTier has no prefix of its own): entries, tag versions, the bus, leases
// and what `cachet stats --namespace` reads are each app's own.

const rules: CacheRule[] = [
  { path: '/products', ttl: '1m', tags: ['products'] },
  { path: '/pages/:id', ttl: '1m', tags: ['pages'] },
]

interface App {
  cache: CacheHandle
  listener: RequestListener
  calls: { products: number; pages: number }
}

function shop(namespace: string): App {
  const calls = { products: 0, pages: 0 }
  const app = express()
  const cache = cacheMiddleware({
    rules,
    namespace,
    store: { l2: redisTier({ client: sharedRedisUrl(), lease: '1s' }) },
  })
  app.use(cache)
  app.get('/products', (_req, res) => {
    calls.products++
    res.json({ namespace, products: calls.products })
  })
  app.get('/pages/:id', (req, res) => {
    calls.pages++
    res.json({ namespace, page: req.params.id })
  })
  return { cache, listener: app as unknown as RequestListener, calls }
}

// Unique per run (the shared Redis outlives a watch-mode rerun), still "shop-a"/"shop-b".
const run = randomBytes(4).toString('hex')
const A = `shop-a-${run}`
const B = `shop-b-${run}`

describe('namespace isolates two apps on one Redis', () => {
  let a: App
  let b: App
  let raw: Redis

  beforeAll(async () => {
    a = shop(A)
    b = shop(B)
    raw = new Redis(sharedRedisUrl())
    await Promise.all([a.cache.ready, b.cache.ready])
  })

  afterAll(async () => {
    await Promise.all([a.cache.close(), b.cache.close()])
    raw.disconnect()
  })

  test("A's invalidate({ tags: ['products'] }) refills A only; B's entries and memory stay", async () => {
    for (const app of [a, b]) {
      await request(app.listener).get('/products').expect(200).expect('x-cache', 'MISS')
      await request(app.listener).get('/products').expect(200).expect('x-cache', 'HIT')
    }
    expect([a.calls.products, b.calls.products]).toEqual([1, 1])

    // Whatever A publishes on its bus; B's channel must stay silent.
    const sub = raw.duplicate()
    const heard: Record<string, number> = {}
    sub.on('message', (channel: string) => {
      heard[channel] = (heard[channel] ?? 0) + 1
    })
    const channelA = new RedisKeyspace(A).channel
    const channelB = new RedisKeyspace(B).channel
    const channelDefault = new RedisKeyspace('cachet').channel
    await sub.subscribe(channelA, channelB, channelDefault)
    try {
      const done = await a.cache.invalidate({ tags: ['products'] })
      expect(done.ok).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(heard[channelA]).toBe(1)
      expect(heard[channelB]).toBeUndefined()
      expect(heard[channelDefault]).toBeUndefined()
    } finally {
      sub.disconnect()
    }

    await request(a.listener).get('/products').expect(200).expect('x-cache', 'MISS')
    // B's memory copy survived: no bus message reached it, no tag version moved.
    await request(b.listener).get('/products').expect(200).expect('x-cache', 'HIT')
    expect([a.calls.products, b.calls.products]).toEqual([2, 1])
    const bStats = b.cache.stats().rules.find((r) => r.name === 'GET,HEAD /products')
    expect(bStats?.hits.memory).toBe(2)
    expect(b.cache.stats().invalidations.done).toBe(0)

    // A's purge stays A's own too.
    await a.cache.purge()
    await request(b.listener).get('/products').expect(200).expect('x-cache', 'HIT')
    expect(b.calls.products).toBe(1)
  })

  test('every key of an app lives under its namespace, in one hash tag', async () => {
    const keys = await raw.keys(`{${A}}:*`)
    expect(keys.some((k) => k === `{${A}}:state`)).toBe(true)
    expect(keys.some((k) => k.startsWith(`{${A}}:e:`))).toBe(true)
    expect(keys.some((k) => k === `{${A}}:t:products`)).toBe(true)
  })

  test('cachet stats --namespace counts only that app’s keys and processes', async () => {
    await request(b.listener).get('/pages/1').expect(200)
    await request(b.listener).get('/pages/2').expect(200)
    const url = sharedRedisUrl()
    const statsOf = async (namespace: string) => {
      const out = await runCli(['stats', '--redis', url, '--namespace', namespace, '--json'])
      expect(out).toMatchObject({ code: 0, stderr: '' })
      return JSON.parse(out.stdout) as {
        prefix: string
        entries: { count: number }
        processes: unknown[]
        busSeq: number
      }
    }
    const sa = await statsOf(A)
    const sb = await statsOf(B)
    // A: /products refilled after its invalidation and purge (1 key); B: /products, /pages/1, /pages/2.
    expect(sa.entries.count).toBe(1)
    expect(sb.entries.count).toBe(3)
    expect(sa.processes).toHaveLength(1)
    expect(sb.processes).toHaveLength(1)
    // A published its invalidation and purge; B published nothing.
    expect(sa.busSeq).toBe(2)
    expect(sb.busSeq).toBe(0)
    const both = await runCli(['stats', '--redis', url, '--namespace', A, '--prefix', B])
    expect(both.code).toBe(2)
    expect(both.stderr).toMatch(/--namespace .* and --prefix .* disagree/)
  })
})

describe('namespace and redisTier prefix', () => {
  test('a tier without a prefix takes the namespace; one prefix set on both is fine', async () => {
    const tier = redisTier({ client: sharedRedisUrl() })
    const cache = cacheMiddleware({ rules, namespace: 'ns-same', store: { l2: tier } })
    const same = cacheMiddleware({
      rules,
      namespace: 'ns-same',
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix: 'ns-same' }) },
    })
    await Promise.all([cache.close(), same.close()])
  })

  test('a namespace and a different explicit prefix are refused, naming both', () => {
    const tier = redisTier({ client: sharedRedisUrl(), prefix: 'other' })
    expect(() => cacheMiddleware({ rules, namespace: 'mine', store: { l2: tier } })).toThrow(
      /option "namespace": "mine" disagrees with redisTier\(\{ prefix: "other" \}\)/,
    )
  })

  test('one tier cannot serve two namespaces', async () => {
    const tier = redisTier({ client: sharedRedisUrl() })
    const first = cacheMiddleware({ rules, namespace: 'ns-one', store: { l2: tier } })
    try {
      expect(() => cacheMiddleware({ rules, namespace: 'ns-two', store: { l2: tier } })).toThrow(
        /already attached to namespace "ns-one"/,
      )
    } finally {
      await first.close()
    }
  })
})
