import { randomBytes } from 'node:crypto'
import type { RequestListener } from 'node:http'
import type { CacheHandle, WarmProgress } from '@cachet/core'
import { sharedRedisUrl } from '../support/redis/shared'
import { adapters, jsonBody, type OriginCalls, type RunningShop, startShop } from '../support/shops'

// cache.warm(urls): every URL fetched through the app as an internal GET, so
// that the requests that follow are HITs with no origin call of their own.

const handle = (running: RunningShop) => running.shop.cache as unknown as CacheHandle

async function xCache(running: RunningShop, path: string): Promise<string | undefined> {
  return (await running.send({ path })).headers['x-cache']
}

const WARMED = [
  '/products/1',
  '/products/2?lang=fr',
  '/products?category=cat-3',
  '/assets/blob-100.bin',
]

describe.each(adapters)('$name shop: cache.warm()', ({ createShop }) => {
  let running: RunningShop | undefined
  afterEach(async () => {
    await running?.close()
    running = undefined
  })

  test('fills the cache: the requests that follow are HITs, and the origin ran once per URL', async () => {
    running = await startShop(createShop)
    const cache = handle(running)
    const progress: WarmProgress[] = []
    cache.engine.on('warm', (p) => progress.push(p))
    const summary = await cache.warm(
      [...WARMED, '/products/1', '/me/cart', '/nowhere/else', '/status/503', 'products/1'],
      { listener: running.shop.handler as RequestListener },
    )
    expect(summary).toMatchObject({ total: 5, ok: 4, failed: 1, skipped: 3, hits: 0, misses: 4 })
    expect(summary.problems).toEqual([
      { url: '/me/cart', reason: 'rule cart is per-user' },
      { url: '/nowhere/else', reason: 'no GET cache rule matches' },
      { url: 'products/1', reason: 'not a path starting with "/"' },
      { url: '/status/503', reason: 'status 503' },
    ])
    expect(progress).toHaveLength(5)
    expect(progress.at(-1)).toEqual({ done: 5, total: 5, ok: 4, failed: 1 })
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5])

    const calls = await running.calls()
    expect(calls.total).toBe(5)
    expect(calls.byRoute).toMatchObject({
      'GET /products/:id': 2,
      'GET /products': 1,
      'GET /assets/:name': 1,
      'GET /status/:code': 1,
    })
    for (const path of WARMED) expect(await xCache(running, path)).toBe('HIT')
    expect((await running.calls()).total).toBe(5)

    // Warming again finds everything cached.
    const again = await cache.warm(WARMED)
    expect(again).toMatchObject({ total: 4, ok: 4, hits: 4, misses: 0, failed: 0, skipped: 0 })
    expect((await running.calls()).total).toBe(5)
  })

  test('without { listener }, it uses the app the middleware saw first; before any request it refuses', async () => {
    running = await startShop(createShop)
    const cache = handle(running)
    await expect(cache.warm(['/products/7'])).rejects.toThrow(/listener/)
    await running.calls() // a first request: the middleware now knows the app
    const summary = await cache.warm(['/products/7', '/products/8'], { concurrency: 1 })
    expect(summary).toMatchObject({ total: 2, ok: 2, misses: 2 })
    expect(await xCache(running, '/products/7')).toBe('HIT')
    expect(((await running.calls()) as OriginCalls).byRoute['GET /products/:id']).toBe(2)
  })

  test('bad arguments are refused up front', async () => {
    running = await startShop(createShop)
    const cache = handle(running)
    const listener = running.shop.handler as RequestListener
    await expect(cache.warm(['/a'], { listener, concurrency: 0 })).rejects.toThrow(/"concurrency"/)
    await expect(cache.warm(['/a'], { listener, timeout: 'soon' })).rejects.toThrow(/"timeout"/)
    await expect(cache.warm({}, { listener })).rejects.toThrow(/nothing to warm/)
    const many = Array.from({ length: 10_001 }, (_, i) => `/products/${i}`)
    await expect(cache.warm(many, { listener })).rejects.toThrow(/at most 10000/)
    expect((await running.calls()).total).toBe(0)
  })

  test('with Redis: stored in both tiers by the time it resolves; another process HITs with no origin call', async () => {
    const config = {
      redisUrl: sharedRedisUrl(),
      redisPrefix: `warm-${randomBytes(6).toString('hex')}`,
      redisLease: '1s',
    }
    running = await startShop(createShop, config)
    const other = await startShop(createShop, config)
    try {
      const summary = await handle(running).warm(WARMED, {
        listener: running.shop.handler as RequestListener,
      })
      expect(summary).toMatchObject({ total: 4, ok: 4, misses: 4, failed: 0 })
      // Already in the memory tier when warm() resolves (it waits for the Redis writes).
      for (const url of WARMED)
        expect(handle(running).engine.explain({ url }).memory?.state).toBe('fresh')
      expect((await running.calls()).total).toBe(4)
      for (const path of WARMED) {
        expect(await xCache(running, path)).toBe('HIT')
        expect(await xCache(other, path)).toBe('HIT')
      }
      expect((await running.calls()).total).toBe(4)
      expect((await other.calls()).total).toBe(0)
      const product = jsonBody(await other.send({ path: '/products/2?lang=fr' })) as {
        name: string
      }
      expect(product.name.startsWith('fr:')).toBe(true)
    } finally {
      await other.close()
    }
  })
})
