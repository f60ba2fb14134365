import { randomBytes } from 'node:crypto'
import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CacheHandle, CacheOptions, CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import { Redis } from 'ioredis'
import Koa from 'koa'
import request from 'supertest'
import { sharedRedisUrl } from '../support/redis/shared'

// warm: { track }: the most requested URLs per rule, kept in memory and saved
// to Redis, so that a restarted process can re-warm them with warm({ top }).

const rules: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: 60 },
  { name: 'mine', path: '/mine', ttl: 60, perUser: true },
]

interface App {
  url: string
  cache: CacheHandle
  listener: RequestListener
  calls(): number
  close(): Promise<void>
}

type Build = (options: CacheOptions) => {
  listener: RequestListener
  cache: CacheHandle
  calls(): number
}

function expressApp(options: CacheOptions) {
  let calls = 0
  const app = express()
  app.use((req, _res, next) => {
    const user = req.headers['x-test-user']
    if (typeof user === 'string') (req as { user?: string }).user = user
    next()
  })
  const cache = expressCache(options)
  app.use(cache)
  app.get('/items/:id', (req, res) => {
    calls++
    res.json({ id: req.params.id })
  })
  app.get('/mine', (req, res) => {
    calls++
    res.json({ user: (req as { user?: string }).user })
  })
  return { listener: app as unknown as RequestListener, cache, calls: () => calls }
}

function koaApp(options: CacheOptions) {
  let calls = 0
  const app = new Koa()
  app.use(async (ctx, next) => {
    const user = ctx.get('x-test-user')
    if (user) ctx.state.user = user
    await next()
  })
  const cache = koaCache(options)
  app.use(cache)
  app.use(async (ctx) => {
    calls++
    ctx.body = ctx.path === '/mine' ? { user: ctx.state.user } : { id: ctx.path.slice(7) }
  })
  return { listener: app.callback() as RequestListener, cache, calls: () => calls }
}

async function start(build: Build, prefix: string): Promise<App> {
  const { listener, cache, calls } = build({
    rules,
    store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: '1s' }) },
    warm: { track: 10, save: '200ms' },
  })
  await cache.ready
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cache,
    listener,
    calls,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await cache.close()
    },
  }
}

async function get(app: App, path: string, user?: string): Promise<string | undefined> {
  let r = request(app.url).get(path)
  if (user !== undefined) r = r.set('x-test-user', user)
  return (await r).headers['x-cache']
}

async function repeat(app: App, path: string, n: number, user?: string): Promise<void> {
  for (let i = 0; i < n; i++) await get(app, path, user)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each([
  ['express', expressApp as Build],
  ['koa', koaApp as Build],
])('%s: top URLs and re-warming after a restart', (_name, build) => {
  let redis: Redis
  let prefix: string
  const open: App[] = []
  beforeAll(() => {
    redis = new Redis(sharedRedisUrl())
  })
  afterAll(async () => {
    await redis.quit()
  })
  beforeEach(() => {
    prefix = `top-${randomBytes(6).toString('hex')}`
  })
  afterEach(async () => {
    for (const app of open.splice(0)) await app.close()
  })

  test('the most requested URLs, saved to Redis, read back by a new process, which re-warms them', async () => {
    const first = await start(build, prefix)
    open.push(first)
    await repeat(first, '/items/1', 5)
    await repeat(first, '/items/2', 3)
    await repeat(first, '/items/3?x=1', 2)
    await repeat(first, '/items/4', 1)
    await repeat(first, '/mine', 6, 'u1')
    expect(first.cache.engine.topUrls(3)).toEqual([
      { url: '/items/1', rule: 'item', count: 5 },
      { url: '/items/2', rule: 'item', count: 3 },
      { url: '/items/3?x=1', rule: 'item', count: 2 },
    ])
    // A clean shutdown saves the list (as does every `warm.save`).
    await open.pop()?.close()
    const saved = await redis.zrevrange(`{${prefix}}:top`, 0, -1, 'WITHSCORES')
    expect(saved).toEqual(['/items/1', '5', '/items/2', '3', '/items/3?x=1', '2', '/items/4', '1'])
    expect(await redis.pttl(`{${prefix}}:top`)).toBeGreaterThan(6 * 86_400_000)

    // The entries are gone (evicted, flushed) but the list survived: the next
    // process reads it back at start and re-warms the top two from the origin.
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:e:*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    const second = await start(build, prefix)
    open.push(second)
    expect(second.cache.engine.topUrls(2).map((t) => t.url)).toEqual(['/items/1', '/items/2'])
    const summary = await second.cache.warm({ top: 2 }, { listener: second.listener })
    expect(summary).toMatchObject({ total: 2, ok: 2, misses: 2, hits: 0, failed: 0, skipped: 0 })
    expect(second.calls()).toBe(2)
    expect(await get(second, '/items/1')).toBe('HIT')
    expect(await get(second, '/items/2')).toBe('HIT')
    expect(second.calls()).toBe(2)
  })

  test('the memory list is the reference: a flushed Redis copy is written again by the next save', async () => {
    const app = await start(build, prefix)
    open.push(app)
    await repeat(app, '/items/9', 4)
    await sleep(500)
    expect(await redis.zscore(`{${prefix}}:top`, '/items/9')).toBe('4')
    await redis.del(`{${prefix}}:top`)
    expect(app.cache.engine.topUrls(1)).toEqual([{ url: '/items/9', rule: 'item', count: 4 }])
    await sleep(500)
    expect(await redis.zscore(`{${prefix}}:top`, '/items/9')).toBe('4')
  })

  test('processes merge into one list: the highest count per URL stays', async () => {
    const a = await start(build, prefix)
    const b = await start(build, prefix)
    open.push(a, b)
    await repeat(a, '/items/1', 3)
    await repeat(b, '/items/1', 1)
    await repeat(b, '/items/2', 2)
    await sleep(500)
    expect(await redis.zrevrange(`{${prefix}}:top`, 0, -1, 'WITHSCORES')).toEqual([
      '/items/1',
      '3',
      '/items/2',
      '2',
    ])
  })
})
