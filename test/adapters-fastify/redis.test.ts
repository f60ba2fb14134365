import { randomBytes } from 'node:crypto'
import { redisTier } from '@cachet/core/redis'
import type { CacheRule } from '@cachet/fastify'
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy'
import { type ShopKind, type ShopProcess, startShopProcess } from '../support/processes'
import { type RedisProcess, startRedis } from '../support/redis/redis-server'
import { sharedRedisUrl } from '../support/redis/shared'
import { type Running, send, start } from './helpers'

// The Fastify plugin on a real Redis: two apps share one cache, a write whose
// invalidation cannot be recorded answers 503, and the Fastify shop as an OS
// process beside the Express and Koa shops forms one cache cluster with them.

const rules: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: '5m', tags: ['item:{params.id}'] },
  { name: 'item-put', path: '/items/:id', methods: ['PUT'], invalidates: ['item:{params.id}'] },
]

const running: Running[] = []
let redis: RedisProcess | undefined
let proxy: TcpProxy | undefined
const processes: ShopProcess[] = []

afterEach(async () => {
  proxy?.heal()
  for (const app of running.splice(0)) await app.close()
  await Promise.all(processes.splice(0).map((p) => p.stop()))
  await proxy?.close()
  await redis?.stop()
  proxy = undefined
  redis = undefined
})

async function itemApp(redisUrl: string, prefix: string, label: string): Promise<Running> {
  let n = 0
  const app = await start(
    { rules, store: { l2: redisTier({ client: redisUrl, prefix, lease: '500ms' }) } },
    (fastify, count) => {
      fastify.get('/items/:id', async () => {
        count('get')
        return { version: `${label}${++n}` }
      })
      fastify.put('/items/:id', async () => ({ put: count('put') }))
    },
  )
  running.push(app)
  await app.app.cache.ready
  return app
}

test('two apps on one Redis: one fills, the other serves that copy; an invalidation on either holds for both', async () => {
  const prefix = `fastify-${randomBytes(4).toString('hex')}`
  const a = await itemApp(sharedRedisUrl(), prefix, 'a')
  const b = await itemApp(sharedRedisUrl(), prefix, 'b')
  expect((await a.get('/items/1')).xCache).toBe('MISS')
  const shared = await b.get('/items/1')
  expect([shared.xCache, shared.json()]).toEqual(['HIT', { version: 'a1' }])
  // A write on B: once its 200 is out, A serves no copy from before it.
  expect((await b.get('/items/1', { method: 'PUT' })).status).toBe(200)
  const after = await a.get('/items/1')
  expect([after.xCache, after.json()]).toEqual(['MISS', { version: 'a2' }])
  expect([a.count('get'), b.count('get'), b.count('put')]).toEqual([2, 0, 1])
})

test('a 2xx write whose invalidation Redis cannot record answers 503, its handler run once', async () => {
  redis = await startRedis()
  proxy = await startTcpProxy({ port: redis.port })
  const a = await itemApp(proxy.url, `fastify-${randomBytes(4).toString('hex')}`, 'a')
  expect((await a.get('/items/1')).xCache).toBe('MISS')
  proxy.refuse(true)
  proxy.resetAll()
  const put = await a.get('/items/1', { method: 'PUT' })
  expect(put.status).toBe(503)
  expect(put.headers.get('cache-control')).toBe('no-store')
  expect(a.count('put')).toBe(1)
  // This process never serves the old copy again.
  const read = await a.get('/items/1')
  expect([read.xCache === 'HIT', read.status]).toEqual([false, 200])
}, 30_000)

test('the Fastify shop as a process beside the Express and Koa shops: one cache cluster', async () => {
  const env = {
    REDIS_URL: sharedRedisUrl(),
    CACHE_REDIS_PREFIX: `fastify-cluster-${randomBytes(4).toString('hex')}`,
  }
  const started = (kind: ShopKind) =>
    startShopProcess(kind, env).then((p) => {
      processes.push(p)
      return p
    })
  const [fastify, express, koa] = await Promise.all([
    started('fastify'),
    started('express'),
    started('koa'),
  ])
  const read = async (p: ShopProcess) => send(`${p.url}/products/7`)
  const version = (r: Awaited<ReturnType<typeof read>>) => (r.json() as { version: number }).version
  expect((await read(fastify)).xCache).toBe('MISS')
  // Each process has its own data: only the cache is shared.
  for (const p of [express, koa]) expect((await read(p)).xCache).toBe('HIT')

  // A write on the Fastify process invalidates the others' copies before it answers.
  const put = await send(`${fastify.url}/products/7`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ price: 1 }),
  })
  expect(put.status).toBe(200)
  // Express refills the shared tier, from which Koa is then served.
  expect([(await read(express)).xCache, (await read(koa)).xCache]).toEqual(['MISS', 'HIT'])

  // And a write on Express invalidates the Fastify process's copy.
  expect((await read(fastify)).xCache).toBe('HIT')
  await send(`${express.url}/products/7`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ price: 2 }),
  })
  const fresh = await read(fastify)
  expect([fresh.xCache, version(fresh)]).toEqual(['MISS', 2])

  const calls = async (p: ShopProcess) =>
    ((await send(`${p.url}/__origin/calls`)).json() as { byRoute: Record<string, number> }).byRoute[
      'GET /products/:id'
    ] ?? 0
  expect(await Promise.all([fastify, express, koa].map(calls))).toEqual([2, 1, 0])
}, 60_000)
