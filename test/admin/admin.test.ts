import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { DASHBOARD_HTML } from '@cachet/core/admin'
import { adminRouter, cacheMiddleware as expressCache } from '@cachet/express'
import { adminMiddleware, cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import Koa from 'koa'
import request from 'supertest'
import { sharedRedisUrl } from '../support/redis/shared'
import { adapters, jsonBody, type RunningShop, startShop } from '../support/shops'

// The admin API as the shops mount it (CONTRACT.md: `/admin/cache/...` behind
// CACHE_ADMIN_TOKEN), on both adapters, with Redis: auth, invalidation that
// makes the next request a MISS (counted at the origin), bad targets,
// explain and health. Then each mount on its own, behind a body parser.

const TOKEN = randomBytes(16).toString('hex')
const AUTH = { Authorization: `Bearer ${TOKEN}` }

describe.each(adapters)('$name shop', ({ createShop }) => {
  let shop: RunningShop
  beforeAll(async () => {
    shop = await startShop(createShop, {
      adminToken: TOKEN,
      redisUrl: sharedRedisUrl(),
      redisPrefix: `admin-${randomBytes(6).toString('hex')}`,
      redisLease: '200ms',
    })
  })
  afterAll(() => shop?.close())

  const admin = (path: string) => request(shop.url).get(`/admin/cache${path}`)

  test('missing and wrong tokens: the same 401; the right token: 200', async () => {
    const missing = await admin('/stats')
    const wrong = await admin('/stats').set('Authorization', `Bearer ${TOKEN.slice(1)}x`)
    const scheme = await admin('/stats').set('Authorization', `Basic ${TOKEN}`)
    for (const res of [missing, wrong, scheme]) {
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer realm="cachet admin"')
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.body).toEqual(missing.body)
    }
    const right = await admin('/stats').set(AUTH)
    expect(right.status).toBe(200)
    expect(right.headers['cache-control']).toBe('no-store')
    expect(right.body.stats.rules.map((r: { name: string }) => r.name)).toContain('product')
  })

  test('the dashboard page is served without a token, and holds no data', async () => {
    for (const path of ['', '/']) {
      const res = await admin(path)
      expect(res.status).toBe(200)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.headers['cache-control']).toBe('no-store')
      // Static: the same bytes for everyone, whatever the cache holds.
      expect(res.text).toBe(DASHBOARD_HTML)
    }
  })

  test('invalidate: the next request is a MISS and the origin runs again; by = token name', async () => {
    const path = '/products/42'
    await shop.send({ path })
    expect((await shop.send({ path })).headers['x-cache']).toBe('HIT')
    const before = await shop.calls()

    const res = await request(shop.url)
      .post('/admin/cache/invalidate')
      .set(AUTH)
      .send({ tags: ['product:42'] })
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body).toMatchObject({ ok: true, by: 'admin', tags: ['product:42'] })

    expect((await shop.send({ path })).headers['x-cache']).toBe('MISS')
    expect((await shop.send({ path: '/products/43' })).headers['x-cache']).toBe('MISS')
    expect((await shop.send({ path })).headers['x-cache']).toBe('HIT')
    const after = await shop.calls()
    expect(after.byRoute['GET /products/:id']).toBe((before.byRoute['GET /products/:id'] ?? 0) + 2)

    const stats = await admin('/stats').set(AUTH)
    expect(stats.body.recentInvalidations.at(-1)).toMatchObject({
      by: 'admin',
      tags: ['product:42'],
      ok: true,
    })
  })

  test('invalidate by pattern and by user', async () => {
    await shop.send({ path: '/products?page=2' })
    const pattern = await request(shop.url)
      .post('/admin/cache/invalidate')
      .set(AUTH)
      .send({ pattern: '/products' })
    expect(pattern.status).toBe(200)
    expect((await shop.send({ path: '/products?page=2' })).headers['x-cache']).toBe('MISS')

    const cart = { path: '/me/cart', headers: { Authorization: 'Bearer u7' } }
    await shop.send(cart)
    expect((await shop.send(cart)).headers['x-cache']).toBe('HIT')
    const user = await request(shop.url)
      .post('/admin/cache/invalidate')
      .set(AUTH)
      .send({ user: 'u7' })
    expect(user.body).toMatchObject({ ok: true, users: ['u7'] })
    expect((await shop.send(cart)).headers['x-cache']).toBe('MISS')
  })

  test('invalidate with mode expire: the entries are stale, served while one request refreshes them', async () => {
    const path = '/slow/77'
    await shop.send({ path })
    expect((await shop.send({ path })).headers['x-cache']).toBe('HIT')
    const before = await shop.calls()
    const res = await request(shop.url)
      .post('/admin/cache/invalidate')
      .set(AUTH)
      .send({ tags: ['product:77'], mode: 'expire' })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ ok: true, mode: 'expire', tags: ['product:77'] })
    // Inside the rule's stale-while-revalidate window: the copy, at once.
    const stale = await shop.send({ path })
    expect([stale.headers['x-cache'], stale.headers['cache-status']]).toEqual([
      'STALE',
      expect.stringMatching(/detail=stale-while-revalidate$/),
    ])
    // Bounded (5 s): the background refresh lands.
    for (let i = 0; i < 250; i++) {
      const calls = await shop.calls()
      if ((calls.byRoute['GET /slow/:id'] ?? 0) > (before.byRoute['GET /slow/:id'] ?? 0)) break
      await new Promise((r) => setTimeout(r, 20))
    }
    // One background refresh ran the route once.
    const after = await shop.calls()
    expect(after.byRoute['GET /slow/:id']).toBe((before.byRoute['GET /slow/:id'] ?? 0) + 1)
  })

  test.each([
    [{ tags: ['product:1'], mode: 'soft' }, 'mode'],
    [{ pattern: '/products', mode: 'expire' }, 'mode'],
    [{ tags: 'product:1' }, 'tags'],
    [{ pattern: 'products' }, 'pattern'],
    [{ user: 7 }, 'user'],
    [{ tag: ['x'] }, 'tag'],
    [{}, 'target'],
  ])('invalidate %j: 400 naming "%s"', async (body, field) => {
    const res = await request(shop.url).post('/admin/cache/invalidate').set(AUTH).send(body)
    expect(res.status).toBe(400)
    expect(res.body.field).toBe(field)
    expect(res.body.error).toContain(`"${field}"`)
  })

  test('invalidate with a body that is not JSON, or too large', async () => {
    const post = () => request(shop.url).post('/admin/cache/invalidate').set(AUTH)
    const invalid = await post().set('Content-Type', 'application/json').send('{"tags":')
    expect(invalid.status).toBe(400)
    expect(invalid.body).toMatchObject({ field: 'body' })
    const large = await post().send({ tags: Array.from({ length: 8000 }, (_, i) => `tag-${i}`) })
    expect(large.status).toBe(413)
    // A wrong token is refused before the body is read.
    const refused = await request(shop.url)
      .post('/admin/cache/invalidate')
      .send({ tags: ['a'] })
    expect(refused.status).toBe(401)
  })

  test('explain: the rule, the key components, and what the memory tier holds', async () => {
    await shop.send({ path: '/products/9?lang=fr&utm=x' })
    const explain = () => admin('/explain').query({ url: '/products/9?lang=fr&utm=y' }).set(AUTH)
    // With Redis, the memory copy is written once Redis accepted the fill,
    // after the answer: wait for it (bounded) before reading what memory holds.
    let res = await explain()
    for (let i = 0; i < 100 && res.body?.memory?.state !== 'fresh'; i++) {
      await new Promise((r) => setTimeout(r, 10))
      res = await explain()
    }
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      matched: true,
      rule: { name: 'product', ttlSeconds: 60 },
      key: { path: '/products/9', query: [['lang', 'fr']], ignoredQuery: ['utm'] },
      tags: ['products', 'product:9'],
      memory: { state: 'fresh' },
      last: { stored: true },
    })
    const cart = await admin('/explain').query({ url: '/me/cart', user: 'u1' }).set(AUTH)
    expect(cart.body).toMatchObject({ rule: { name: 'cart', perUser: true }, tags: ['user:u1'] })
  })

  test('health: L1, L2, bus and breaker; 200 when healthy', async () => {
    const res = await admin('/health').set(AUTH)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      status: 'ok',
      l1: { maxBytes: expect.any(Number) },
      l2: { name: 'redis', breaker: 'closed', trusted: true },
      problems: [],
    })
  })
})

describe.each(adapters)('$name shop without CACHE_ADMIN_TOKEN', ({ createShop }) => {
  let shop: RunningShop
  beforeAll(async () => {
    shop = await startShop(createShop)
  })
  afterAll(() => shop?.close())

  test.each(['/admin/cache/stats', '/admin/cache/', '/admin/cache'])(
    'GET %s: 404',
    async (path) => {
      const reply = await shop.send({ path, headers: AUTH })
      expect(reply.status).toBe(404)
      expect(jsonBody(reply)).toEqual({ error: 'not found' })
    },
  )
})

async function listen(handler: http.RequestListener): Promise<{ url: string; close(): void }> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

const rules = [{ name: 'item', path: '/items/:id', ttl: 60, tags: ['item:{params.id}'] }]

test('express: behind express.json(), with named tokens', async () => {
  const cache = expressCache(rules)
  const app = express()
  let calls = 0
  app.use(express.json())
  app.use(cache)
  app.use('/ops/cache', adminRouter(cache, { tokens: { ci: TOKEN } }))
  app.get('/items/:id', (req, res) => {
    calls++
    res.json({ id: req.params.id })
  })
  const server = await listen(app)
  try {
    await request(server.url).get('/items/1')
    expect((await request(server.url).get('/items/1')).headers['x-cache']).toBe('HIT')
    const res = await request(server.url)
      .post('/ops/cache/invalidate')
      .set(AUTH)
      .send({ tags: ['item:1'] })
    expect(res.body).toMatchObject({ ok: true, by: 'ci' })
    expect((await request(server.url).get('/items/1')).headers['x-cache']).toBe('MISS')
    expect(calls).toBe(2)
    expect((await request(server.url).get('/ops/cache/nope').set(AUTH)).status).toBe(404)
  } finally {
    server.close()
    await cache.close()
  }
  expect(() => adminRouter(cache, { tokens: '' })).toThrow(/refuses to run without/)
})

test('koa: behind a body parser, at its prefix only', async () => {
  const cache = koaCache(rules)
  const app = new Koa()
  let calls = 0
  // A body parser that ran first (as @koa/bodyparser would, whose types this
  // program does not load: they retype node's IncomingMessage).
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST') {
      const chunks: Buffer[] = []
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
      ;(ctx.request as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString())
    }
    await next()
  })
  app.use(cache)
  app.use(adminMiddleware(cache, { tokens: { ci: TOKEN }, prefix: '/ops/cache/' }))
  app.use(async (ctx) => {
    calls++
    ctx.body = { path: ctx.path }
  })
  const server = await listen(app.callback())
  try {
    await request(server.url).get('/items/1')
    const res = await request(server.url)
      .post('/ops/cache/invalidate')
      .set(AUTH)
      .send({ tags: ['item:1'] })
    expect(res.body).toMatchObject({ ok: true, by: 'ci' })
    expect((await request(server.url).get('/items/1')).headers['x-cache']).toBe('MISS')
    // A path that only starts like the prefix is not the admin API's.
    expect((await request(server.url).get('/ops/cachex')).body).toEqual({ path: '/ops/cachex' })
    expect((await request(server.url).get('/ops/cache')).type).toBe('text/html')
    expect(calls).toBe(3)
  } finally {
    server.close()
    await cache.close()
  }
  expect(() => adminMiddleware(cache, { tokens: TOKEN, prefix: 'ops' })).toThrow(
    /option "prefix": expected a path starting with "\/", got "ops"/,
  )
  expect(() => adminMiddleware(cache, {} as never)).toThrow(/refuses to run without/)
})
