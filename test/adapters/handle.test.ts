import { randomBytes } from 'node:crypto'
import type { RequestListener } from 'node:http'
import { redisTier } from '@cachet/core/redis'
import type { CacheHandle, CacheOptions, CacheRule, InvalidationRecord } from '@cachet/express'
import * as expressPkg from '@cachet/express'
import * as koaPkg from '@cachet/koa'
import express from 'express'
import Koa from 'koa'
import request from 'supertest'
import { sharedRedisUrl } from '../support/redis/shared'

// The one object a user holds: the middleware is also the handle — invalidate
// (resolving with what it did), purge, explain, stats, on/off, ready, close.
// And what the adapters re-export so an app imports from one package.

const rules: CacheRule[] = [
  { path: '/products', ttl: '1m', tags: ['products'] },
  { path: '/pages/:id', ttl: '1m', tags: ['pages'] },
]

interface App {
  handle: CacheHandle
  listener: RequestListener
  calls: Record<string, number>
}

function expressApp(options: CacheOptions): App {
  const calls: Record<string, number> = {}
  const app = express()
  const cache = expressPkg.cacheMiddleware(options)
  app.use(cache)
  app.get('/products', (_req, res) => {
    calls.products = (calls.products ?? 0) + 1
    res.json({ products: calls.products })
  })
  app.get('/pages/:id', (req, res) => {
    calls.pages = (calls.pages ?? 0) + 1
    res.json({ page: req.params.id })
  })
  return { handle: cache, listener: app as unknown as RequestListener, calls }
}

function koaApp(options: CacheOptions): App {
  const calls: Record<string, number> = {}
  const app = new Koa()
  const cache = koaPkg.cacheMiddleware(options)
  app.use(cache)
  app.use(async (ctx) => {
    if (ctx.path === '/products') {
      calls.products = (calls.products ?? 0) + 1
      ctx.body = { products: calls.products }
    } else if (ctx.path.startsWith('/pages/')) {
      calls.pages = (calls.pages ?? 0) + 1
      ctx.body = { page: ctx.path.slice(7) }
    }
  })
  return { handle: cache, listener: app.callback(), calls }
}

const adapters = [
  ['express', expressApp],
  ['koa', koaApp],
] as const

describe.each(adapters)('the %s handle', (_name, build) => {
  let app: App
  afterEach(() => app.handle.close())

  test('invalidate() resolves with what it did', async () => {
    app = build({ rules })
    await app.handle.ready
    await request(app.listener).get('/products').expect(200)
    await request(app.listener).get('/products').expect('x-cache', /^HIT/)
    expect(app.calls.products).toBe(1)
    const done: InvalidationRecord = await app.handle.invalidate({ tags: ['products'] })
    expect(done).toMatchObject({ by: 'api', tags: ['products'], patterns: [], users: [], ok: true })
    expect(typeof done.ms).toBe('number')
    await request(app.listener).get('/products').expect('x-cache', /^MISS/)
    expect(app.calls.products).toBe(2)
  })

  test('stats(), explain() and on() reach the engine', async () => {
    app = build({ rules })
    const hits: string[] = []
    const onHit = (e: { rule: string }) => hits.push(e.rule)
    expect(app.handle.on('hit', onHit)).toBe(app.handle)
    await request(app.listener).get('/pages/1').expect(200)
    await request(app.listener).get('/pages/1').expect(200)
    expect(app.calls.pages).toBe(1)
    expect(hits).toEqual(['GET,HEAD /pages/:id'])
    const rule = app.handle.stats().rules.find((r) => r.name === 'GET,HEAD /pages/:id')
    expect(rule?.misses).toBe(1)
    expect(rule?.hits.memory).toBe(1)
    const why = app.handle.explain({ url: '/pages/1' })
    expect(why).toMatchObject({ matched: true, memory: { state: 'fresh' } })
    app.handle.off('hit', onHit)
    await request(app.listener).get('/pages/1').expect(200)
    expect(hits).toHaveLength(1)
    expect(app.calls.pages).toBe(1)
  })
})

describe.each(adapters)('purge() on %s', (_name, build) => {
  test('drops every entry of every rule, in every process on the shared Redis', async () => {
    const prefix = `purge-${randomBytes(6).toString('hex')}`
    const options = (): CacheOptions => ({
      rules,
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix }) },
    })
    const a = build(options())
    const b = build(options())
    try {
      await Promise.all([a.handle.ready, b.handle.ready])
      for (const app of [a, b]) {
        await request(app.listener).get('/products').expect(200)
        await request(app.listener).get('/pages/7').expect(200)
      }
      // b found a's copies in Redis: each origin ran once in all.
      expect((a.calls.products ?? 0) + (b.calls.products ?? 0)).toBe(1)
      expect((a.calls.pages ?? 0) + (b.calls.pages ?? 0)).toBe(1)
      const done = await a.handle.purge()
      expect(done.ok).toBe(true)
      await request(b.listener).get('/products').expect('x-cache', /^MISS/)
      await request(b.listener).get('/pages/7').expect('x-cache', /^MISS/)
      await request(a.listener).get('/pages/8').expect('x-cache', /^MISS/)
      expect((a.calls.products ?? 0) + (b.calls.products ?? 0)).toBe(2)
      expect((a.calls.pages ?? 0) + (b.calls.pages ?? 0)).toBe(3)
    } finally {
      await Promise.all([a.handle.close(), b.handle.close()])
    }
  })
})

test.each([
  ['@cachet/express', expressPkg],
  ['@cachet/koa', koaPkg],
])('%s re-exports the error classes an app catches', (_name, pkg) => {
  expect(typeof pkg.CachetConfigError).toBe('function')
  expect(typeof pkg.CachetInvalidationError).toBe('function')
  expect(pkg.isCachetError(new pkg.CachetConfigError('CACHET_INVALID_RULE', 'x'))).toBe(true)
  expect(() => pkg.cacheMiddleware([{ path: '/x', ttl: 'soon' } as never])).toThrow(
    pkg.CachetConfigError,
  )
})
