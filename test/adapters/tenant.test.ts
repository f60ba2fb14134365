import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { CacheOptions, CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { sharedRedisUrl } from '../support/redis/shared'
import { send } from '../support/shops'
import { type Respond, type SmallApp, smallApps } from '../support/small-apps'

// A rule's `tenant` on the three adapters, over real HTTP, in memory and on a
// real Redis: each tenant has its own entries, a request without a tenant
// bypasses the cache, and `invalidate({ tenant })` drops that tenant's
// entries under every rule, in every process, and nobody else's. Every test
// counts the route's runs.

/** The demo's verified tenant: the gateway in front sets `X-Tenant`. */
const tenant = (req: IncomingMessage) => {
  const t = req.headers['x-tenant']
  if (t === 'boom') throw new Error('tenant lookup failed')
  return typeof t === 'string' ? t : undefined
}

// The route reads the tenant's header too, so it is keyed (and so in `Vary`,
// for the caches after this one): the route of a miss sees only keyed headers.
const byTenant = { tenant, key: { headers: ['x-tenant'] } }
const rules: CacheRule[] = [
  { path: '/catalog/:id', ttl: '5m', ...byTenant, tags: ['item:{params.id}'] },
  { path: '/news/:id', ttl: '5m', ...byTenant },
  { path: '/public/:id', ttl: '5m' },
]

/** The route's answer: the tenant header, the path, and the runs for that tenant and path. */
const byHeader: Respond = ({ path, headers }, count) => {
  const t = headers['x-tenant'] || undefined
  const key = `${typeof t === 'string' ? t : '-'} ${path}`
  return { body: `${t} ${path} v${count(key)}` }
}

const get = async (url: string, path: string, t?: string) => {
  const r = await send(url, {
    method: 'GET',
    path,
    headers: t === undefined ? {} : { 'x-tenant': t },
  })
  return [r.headers['x-cache'], r.body.toString('utf8')]
}

const running: SmallApp[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()))
})

describe.each(smallApps)('%s', (_, build) => {
  const start = async (options: CacheOptions = { rules }, edge = false) => {
    const app = await build(options, edge, byHeader)
    running.push(app)
    return app
  }

  test.each([false, true])('each tenant has its own entries (edge: %s)', async (edge) => {
    const app = await start({ rules }, edge)
    expect(await get(app.url, '/catalog/1', 'acme')).toEqual(['MISS', 'acme /catalog/1 v1'])
    expect(await get(app.url, '/catalog/1', 'globex')).toEqual(['MISS', 'globex /catalog/1 v1'])
    expect(await get(app.url, '/catalog/1', 'acme')).toEqual(['HIT', 'acme /catalog/1 v1'])
    expect(await get(app.url, '/catalog/1', 'globex')).toEqual(['HIT', 'globex /catalog/1 v1'])
    expect([...app.calls]).toEqual([
      ['acme /catalog/1', 1],
      ['globex /catalog/1', 1],
    ])
  })

  test('a request without a tenant, or whose tenant function throws, bypasses the cache', async () => {
    const app = await start()
    for (const t of [undefined, '', 'boom']) {
      const [x] = await get(app.url, '/catalog/2', t)
      expect([t, x]).toEqual([t, 'BYPASS'])
      const [again] = await get(app.url, '/catalog/2', t)
      expect([t, again]).toEqual([t, 'BYPASS'])
    }
    // Each of the six requests ran the route ('' and undefined count as no tenant).
    expect(app.calls.get('- /catalog/2')).toBe(4)
    expect(app.calls.get('boom /catalog/2')).toBe(2)
    // A rule without a tenant is not concerned.
    await get(app.url, '/public/1')
    expect((await get(app.url, '/public/1'))[0]).toBe('HIT')
    expect(app.calls.get('- /public/1')).toBe(1)
  })

  test("invalidate({ tenant }) drops that tenant's entries under every rule, and nobody else's", async () => {
    const app = await start()
    for (const t of ['acme', 'globex']) {
      await get(app.url, '/catalog/3', t)
      await get(app.url, '/news/3', t)
    }
    await get(app.url, '/public/3')
    const record = await app.cache.invalidate({ tenant: 'acme' })
    expect(record).toMatchObject({ ok: true, tenants: ['acme'], tags: [] })
    expect(await get(app.url, '/catalog/3', 'acme')).toEqual(['MISS', 'acme /catalog/3 v2'])
    expect(await get(app.url, '/news/3', 'acme')).toEqual(['MISS', 'acme /news/3 v2'])
    expect((await get(app.url, '/catalog/3', 'globex'))[0]).toBe('HIT')
    expect((await get(app.url, '/news/3', 'globex'))[0]).toBe('HIT')
    expect((await get(app.url, '/public/3'))[0]).toBe('HIT')
    expect(Object.fromEntries(app.calls)).toEqual({
      'acme /catalog/3': 2,
      'acme /news/3': 2,
      'globex /catalog/3': 1,
      'globex /news/3': 1,
      '- /public/3': 1,
    })
    // A tag names an item across tenants: every tenant's copy of it goes.
    await app.cache.invalidate({ tags: ['item:3'] })
    expect((await get(app.url, '/catalog/3', 'globex'))[0]).toBe('MISS')
    expect((await get(app.url, '/news/3', 'globex'))[0]).toBe('HIT')
    expect(app.cache.engine.stats().invalidations).toMatchObject({ done: 2, tenants: 1 })
  })

  test("store.l1.maxBytesPerTenant: one tenant's flood evicts its own entries, not another's", async () => {
    const app = await start({ rules, store: { l1: { maxBytesPerTenant: '8KiB' } } })
    expect((await get(app.url, '/catalog/1', 'quiet'))[0]).toBe('MISS')
    for (let i = 0; i < 40; i++) await get(app.url, `/news/${i}`, 'loud')
    // The quiet tenant's entry is still in memory; the loud one kept only its most recent.
    expect(await get(app.url, '/catalog/1', 'quiet')).toEqual(['HIT', 'quiet /catalog/1 v1'])
    expect((await get(app.url, '/news/39', 'loud'))[0]).toBe('HIT')
    expect((await get(app.url, '/news/0', 'loud'))[0]).toBe('MISS')
    expect(app.calls.get('quiet /catalog/1')).toBe(1)
    expect(app.calls.get('loud /news/0')).toBe(2)
    expect(app.cache.engine.l1?.tenantBytes('loud')).toBeLessThanOrEqual(8 * 1024)
  })

  test('a bad tenant in invalidate() is refused by name', async () => {
    const app = await start()
    await expect(app.cache.invalidate({ tenant: '' })).rejects.toThrow(
      'invalidate(): "tenant": expected a non-empty string, got ""',
    )
  })

  test('on a shared Redis: a tenant invalidated on one process is gone on the other', async () => {
    const prefix = `tenant-${randomBytes(4).toString('hex')}`
    const options = (): CacheOptions => ({
      rules,
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix }) },
    })
    const a = await start(options())
    const b = await start(options())
    await Promise.all([a.cache.ready, b.cache.ready])
    expect(await get(a.url, '/catalog/4', 'acme')).toEqual(['MISS', 'acme /catalog/4 v1'])
    expect(await get(a.url, '/catalog/4', 'globex')).toEqual(['MISS', 'globex /catalog/4 v1'])
    // B is served A's copies from Redis, each tenant its own.
    expect(await get(b.url, '/catalog/4', 'acme')).toEqual(['HIT', 'acme /catalog/4 v1'])
    expect(await get(b.url, '/catalog/4', 'globex')).toEqual(['HIT', 'globex /catalog/4 v1'])
    await b.cache.invalidate({ tenant: 'acme' })
    // Read-your-writes on A: its memory copy of acme's entry is gone too.
    expect(await get(a.url, '/catalog/4', 'acme')).toEqual(['MISS', 'acme /catalog/4 v2'])
    expect((await get(a.url, '/catalog/4', 'globex'))[0]).toBe('HIT')
    expect(Object.fromEntries(a.calls)).toEqual({ 'acme /catalog/4': 2, 'globex /catalog/4': 1 })
    expect(b.calls.size).toBe(0)
  })
})

test('explain() takes the tenant; without one a tenant rule explains as a bypass', () => {
  const cache = expressCache(rules)
  running.push({ url: '', cache, calls: new Map(), finished: [], close: () => cache.close() })
  expect(cache.explain({ url: '/catalog/9' }).bypass).toBe('no-tenant')
  const e = cache.explain({ url: '/catalog/9', tenant: 'acme' })
  expect([e.bypass, e.tags]).toEqual([undefined, ['item:9']])
})

test('a tenant that is not a function is refused at start-up', () => {
  expect(() => expressCache([{ path: '/x', ttl: 5, tenant: 'x-tenant' as never }])).toThrow(
    'rules[0] (/x): option "tenant": expected a function of the request returning the tenant, got "x-tenant"',
  )
})
