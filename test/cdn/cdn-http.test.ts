import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheOptions, CacheRule } from '@cachet/core'
import { akamaiPurger, fastlyPurger, foldTag } from '@cachet/core/cdn'
import { redisTier } from '@cachet/core/redis'
import { sharedRedisUrl } from '../support/redis/shared'
import { send } from '../support/shops'
import { type Respond, type SmallApp, smallApps } from '../support/small-apps'
import { AKAMAI, FASTLY, type FakeCdn, fakeAkamai, fakeFastly } from './fake-cdns'

// The CDN in front, over real HTTP on the three adapters: the tag header and
// the CDN's own lifetime on the miss and on every answer from the cache,
// nothing on what the cache does not store, and every invalidation purging
// the CDN (a local stand-in for its purge API) after this cache, once.

const rules: CacheRule[] = [
  { path: '/item/:id', ttl: '5m', tags: ['item:{params.id}', 'items'] },
  { path: '/quiet/:id', ttl: '5m', tags: ['quiet'], cdn: false },
  { path: '/long/:id', ttl: '5m', tags: ['items'], cdn: { ttl: '2h' } },
  { path: '/me/:id', ttl: '5m', perUser: true },
]

const respond: Respond = ({ path }, count) => {
  const n = count(path)
  return path.startsWith('/item/9') ? { body: 'oops', status: 500 } : { body: `${path} v${n}` }
}

const get = async (app: SmallApp, path: string, headers: Record<string, string> = {}) => {
  const r = await send(app.url, { method: 'GET', path, headers })
  return { status: r.status, headers: r.headers, body: r.body.toString('utf8') }
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + 5_000
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

const running: SmallApp[] = []
const cdns: FakeCdn[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()))
  await Promise.all(cdns.splice(0).map((c) => c.close()))
})

/** The route tag the engine gives every rule, as Fastly gets it (folded: it has spaces). */
const ROUTE = foldTag('#route:GET,HEAD /item/:id')

describe.each(smallApps)('%s', (_, build) => {
  const start = async (options: CacheOptions) => {
    const app = await build(options, false, respond)
    running.push(app)
    await app.cache.ready
    return app
  }
  const fastly = async () => {
    const cdn = await fakeFastly()
    cdns.push(cdn)
    return cdn
  }

  test('tags and the CDN lifetime on the miss and the hits; nothing where the cache stores nothing', async () => {
    const cdn = await fastly()
    const app = await start({
      rules,
      cdn: {
        provider: 'fastly',
        ttl: '1d',
        purger: fastlyPurger({ ...FASTLY, endpoint: cdn.url }),
      },
    })
    const miss = await get(app, '/item/1')
    const hit = await get(app, '/item/1')
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT'])
    for (const r of [miss, hit]) {
      expect(r.headers['surrogate-key']).toBe(`item:1 items ${ROUTE}`)
      expect(r.headers['surrogate-control']).toBe('max-age=86400')
    }
    // A 304 to a conditional request carries them too.
    const etag = hit.headers.etag as string
    const revalidated = await get(app, '/item/1', { 'if-none-match': etag })
    expect(revalidated.status).toBe(304)
    expect(revalidated.headers['surrogate-key']).toBe(`item:1 items ${ROUTE}`)
    expect(app.calls.get('/item/1')).toBe(1)

    // A rule's own lifetime; a rule with cdn: false; a per-user rule; a response not stored.
    expect((await get(app, '/long/1')).headers['surrogate-control']).toBe('max-age=7200')
    const quiet = await get(app, '/quiet/1')
    expect(quiet.headers['surrogate-key']).toBeUndefined()
    expect(quiet.headers['surrogate-control']).toBeUndefined()
    const failed = await get(app, '/item/9')
    expect(failed.status).toBe(500)
    expect(failed.headers['surrogate-key']).toBeUndefined()
    expect(app.calls.get('/item/9')).toBe(1)
    expect(cdn.requests).toHaveLength(0)
  })

  test('without a purger the CDN lifetime is capped at a minute', async () => {
    const app = await start({ rules, cdn: { provider: 'fastly', ttl: '1d' } })
    expect((await get(app, '/item/1')).headers['surrogate-control']).toBe('max-age=60')
    expect(app.cache.stats().cdn).toMatchObject({ provider: 'fastly', purges: undefined })
  })

  test('an invalidation purges the CDN after this cache, by tag, by a rule’s pattern, once', async () => {
    const cdn = await fastly()
    const app = await start({
      rules,
      cdn: {
        provider: 'fastly',
        ttl: '1d',
        purger: fastlyPurger({ ...FASTLY, endpoint: cdn.url }),
      },
    })
    await get(app, '/item/1')
    await app.cache.invalidate({ tags: ['item:1'] })
    await until('the purge', () => cdn.requests.length === 1)
    expect(cdn.requests[0]?.body).toEqual({ surrogate_keys: ['item:1'] })
    // The cache itself was invalidated first: the CDN's refetch is a miss here.
    expect((await get(app, '/item/1')).headers['x-cache']).toBe('MISS')
    expect(app.calls.get('/item/1')).toBe(2)

    await app.cache.invalidate({ pattern: '/item/:id' })
    await until('the second purge', () => cdn.requests.length === 2)
    expect(cdn.requests[1]?.body).toEqual({ surrogate_keys: [ROUTE] })
    await until('counted', () => app.cache.stats().cdn?.purges?.ok === 2)
    expect(app.cache.stats().cdn?.purges).toMatchObject({ pending: 0, failed: 0, tags: 2 })
  })

  test('a rate-limited purge is retried after the CDN’s wait, and reported', async () => {
    const cdn = await fastly()
    const app = await start({
      rules,
      cdn: { provider: 'fastly', purger: fastlyPurger({ ...FASTLY, endpoint: cdn.url }) },
    })
    const events: Array<{ ok: boolean; status?: number }> = []
    app.cache.on('cdn:purge', (e) => events.push({ ok: e.ok, status: e.status }))
    cdn.failNext('rate-limit', 1, {
      headers: { 'fastly-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1) },
    })
    await app.cache.invalidate({ tags: ['items'] })
    await until('accepted', () => events.some((e) => e.ok))
    expect(events).toEqual([
      { ok: false, status: 429 },
      { ok: true, status: 200 },
    ])
    expect(cdn.requests.map((r) => r.status)).toEqual([429, 200])
  })
})

test('Akamai: tags it does not allow go folded, and the purge names the folded form', async () => {
  const cdn = await fakeAkamai()
  cdns.push(cdn)
  const [, build] = smallApps[0] as (typeof smallApps)[number]
  const app = await build(
    {
      rules,
      cdn: {
        provider: 'akamai',
        ttl: '1h',
        purger: akamaiPurger({ ...AKAMAI, endpoint: cdn.url }),
      },
    },
    false,
    respond,
  )
  running.push(app)
  const r = await get(app, '/item/1')
  expect(r.headers['edge-cache-tag']).toBe(
    [foldTag('item:1'), 'items', foldTag('#route:GET,HEAD /item/:id')].join(','),
  )
  expect(r.headers['cdn-cache-control']).toBe('max-age=3600')
  await app.cache.invalidate({ tags: ['item:1'] })
  await until('the purge', () => cdn.requests.length === 1)
  expect(cdn.requests[0]?.body).toEqual({ objects: [foldTag('item:1')] })
})

test('too many tags for the CDN: uncacheable there, never truncated', async () => {
  const many: CacheRule[] = [
    { path: '/many/:id', ttl: '5m', tags: Array.from({ length: 130 }, (_, i) => `t${i}`) },
  ]
  const [, build] = smallApps[1] as (typeof smallApps)[number]
  const app = await build({ rules: many, cdn: { provider: 'akamai', ttl: '1h' } }, false, respond)
  running.push(app)
  for (const r of [await get(app, '/many/1'), await get(app, '/many/1')]) {
    expect(r.headers['edge-cache-tag']).toBeUndefined()
    expect(r.headers['cdn-cache-control']).toBe('no-store')
  }
  expect(app.calls.get('/many/1')).toBe(1)
  expect(app.cache.stats().cdn?.overBudget).toBe(1)
})

test('with Redis, the process that invalidates purges; the others do not', async () => {
  const cdn = await fakeFastly()
  cdns.push(cdn)
  const prefix = `cdn-${randomBytes(4).toString('hex')}`
  const options = (): CacheOptions => ({
    rules,
    store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: '300ms' }) },
    cdn: { provider: 'fastly', purger: fastlyPurger({ ...FASTLY, endpoint: cdn.url }) },
  })
  const apps = await Promise.all(smallApps.map(([, build]) => build(options(), false, respond)))
  running.push(...apps)
  await Promise.all(apps.map((a) => a.cache.ready))
  await sleep(300)
  await (apps[0] as SmallApp).cache.invalidate({ tags: ['items'] })
  await until('the purge', () => cdn.requests.length === 1)
  await sleep(200)
  expect(cdn.requests).toHaveLength(1)
})
