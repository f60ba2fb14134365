import { randomBytes } from 'node:crypto'
import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { redisTier } from '@cachet/core/redis'
import type { CacheHandle, CacheRule } from '@cachet/express'
import * as expressPkg from '@cachet/express'
import * as koaPkg from '@cachet/koa'
import express from 'express'
import Koa from 'koa'
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy'
import { type RedisProcess, startRedis } from '../support/redis/redis-server'

// Writes while this process cannot reach Redis (docs/failing-well.md, "Writes
// during a Redis outage"). A reaches Redis through a TCP proxy the test cuts; B reads the same
// Redis directly all along (a partition: only A is cut off). Real HTTP, a
// redis-server of the test's own, stopped by pid.
//
//   POST /items/:id  write rule with onInvalidationFailure: 'defer'
//   PUT  /items/:id  write rule with the default ('reject')

const rules: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: '5m', tags: ['item:{params.id}'] },
  {
    name: 'item-post',
    path: '/items/:id',
    methods: ['POST'],
    invalidates: ['item:{params.id}'],
    onInvalidationFailure: 'defer',
  },
  { name: 'item-put', path: '/items/:id', methods: ['PUT'], invalidates: ['item:{params.id}'] },
]

interface Calls {
  get: number
  post: number
  put: number
}

interface App {
  cache: CacheHandle
  calls: Calls
  url: string
  server: http.Server
}

function expressListener(cache: CacheHandle, calls: Calls, version: () => string): RequestListener {
  const app = express()
  app.use(cache as unknown as express.RequestHandler)
  app.get('/items/:id', (req, res) => {
    calls.get++
    res.json({ id: req.params.id, version: version() })
  })
  app.post('/items/:id', (_req, res) => {
    calls.post++
    res.status(201).json({ created: true })
  })
  app.put('/items/:id', (_req, res) => {
    calls.put++
    res.json({ updated: true })
  })
  return app as unknown as RequestListener
}

function koaListener(cache: CacheHandle, calls: Calls, version: () => string): RequestListener {
  const app = new Koa()
  app.use(cache as unknown as Koa.Middleware)
  app.use(async (ctx) => {
    if (!ctx.path.startsWith('/items/')) return
    if (ctx.method === 'GET') {
      calls.get++
      ctx.body = { id: ctx.path.slice(7), version: version() }
    } else if (ctx.method === 'POST') {
      calls.post++
      ctx.status = 201
      ctx.body = { created: true }
    } else if (ctx.method === 'PUT') {
      calls.put++
      ctx.body = { updated: true }
    }
  })
  return app.callback()
}

const adapters = [
  { name: 'express', make: expressPkg.cacheMiddleware, listener: expressListener },
  { name: 'koa', make: koaPkg.cacheMiddleware, listener: koaListener },
] as const

let redis: RedisProcess | undefined
let proxy: TcpProxy | undefined
const apps: App[] = []

afterEach(async () => {
  proxy?.heal()
  for (const app of apps.splice(0)) {
    await app.cache.close()
    await new Promise((resolve) => app.server.close(resolve))
  }
  await proxy?.close()
  await redis?.stop()
  proxy = undefined
  redis = undefined
})

async function startApp(
  adapter: (typeof adapters)[number],
  redisUrl: string,
  prefix: string,
  label: string,
): Promise<App> {
  const calls: Calls = { get: 0, post: 0, put: 0 }
  const cache = adapter.make({
    rules,
    store: { l2: redisTier({ client: redisUrl, prefix }) },
  }) as unknown as CacheHandle
  // Each process renders its own version: a reader can tell whose copy it got.
  let n = 0
  const server = http.createServer(adapter.listener(cache, calls, () => `${label}${++n}`))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const app = {
    cache,
    calls,
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  }
  apps.push(app)
  await cache.ready
  return app
}

interface Reply {
  status: number
  xCache: string
  body: { version?: string }
  ms: number
}

async function send(app: App, method: string, path: string): Promise<Reply> {
  const started = Date.now()
  const res = await fetch(`${app.url}${path}`, { method })
  const text = await res.text()
  return {
    status: res.status,
    xCache: res.headers.get('x-cache') ?? '',
    body: text === '' ? {} : JSON.parse(text),
    ms: Date.now() - started,
  }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.each(adapters)('$name: writes while Redis is unreachable', (adapter) => {
  test("'defer' answers the write, serves this process fresh, and replays the invalidation once Redis answers; 'reject' (default) answers 503", async () => {
    redis = await startRedis()
    proxy = await startTcpProxy({ port: redis.port })
    const prefix = `outage-${randomBytes(4).toString('hex')}`
    const a = await startApp(adapter, proxy.url, prefix, 'a')
    const b = await startApp(adapter, redis.url, prefix, 'b')

    // A fills Redis; B serves A's copy through it, then from its memory tier.
    expect((await send(a, 'GET', '/items/1')).xCache).toBe('MISS')
    const shared = await send(b, 'GET', '/items/1')
    expect([shared.xCache, shared.body.version]).toEqual(['HIT', 'a1'])
    expect((await send(b, 'GET', '/items/1')).body.version).toBe('a1')
    expect([a.calls.get, b.calls.get]).toEqual([1, 0])

    // A is cut off from Redis.
    proxy.refuse(true)
    proxy.resetAll()

    // 'defer': the route's 201, its handler run once, within the invalidation's deadline (2 s).
    const post = await send(a, 'POST', '/items/1')
    expect(post.status).toBe(201)
    expect(post.body).toEqual({ created: true })
    expect(a.calls.post).toBe(1)
    expect(post.ms).toBeLessThan(4000)
    expect(a.cache.stats().l2?.outbox.pending).toBe(1)
    expect(a.cache.stats().invalidations.deferred).toBe(1)

    // A never serves the old copy: its next read runs the origin.
    const fresh = await send(a, 'GET', '/items/1')
    expect([fresh.status, fresh.xCache, fresh.body.version]).toEqual([200, 'MISS', 'a2'])
    expect(a.calls.get).toBe(2)

    // The documented window: B, which still reaches Redis, keeps serving the
    // copy made before the write until A's outbox is replayed.
    const during = await send(b, 'GET', '/items/1')
    expect([during.xCache, during.body.version]).toEqual(['HIT', 'a1'])
    expect(b.calls.get).toBe(0)

    // 'reject' (the default): 503, though the handler ran (once).
    const put = await send(a, 'PUT', '/items/1')
    expect(put.status).toBe(503)
    expect(a.calls.put).toBe(1)
    // So does invalidate() without 'defer'.
    await expect(a.cache.invalidate({ tags: ['item:9'] })).rejects.toMatchObject({
      code: 'CACHET_INVALIDATION_FAILED',
    })

    // Redis reachable again: A replays its outbox, which B applies.
    proxy.heal()
    await until(() => a.cache.stats().l2?.outbox.pending === 0, 20_000, "A's replay")
    expect(a.cache.stats().l2?.outbox.replayed).toBe(1)
    const after = await send(b, 'GET', '/items/1')
    expect([after.xCache, after.body.version]).toEqual(['MISS', 'b1'])
    expect(b.calls.get).toBe(1)
    // And the shared tier holds no copy from before the write either.
    expect((await send(a, 'GET', '/items/1')).body.version).not.toBe('a1')
  }, 60_000)
})
