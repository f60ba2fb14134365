import { randomBytes } from 'node:crypto'
import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheHandle, CacheOptions, CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import Koa from 'koa'
import request from 'supertest'
import { sharedRedisUrl } from '../support/redis/shared'

// A rule's `cacheControl`: what the browsers and CDNs after the cache may
// keep. The miss that is stored and every answer from the cache (memory and
// Redis, stale, 304, HEAD, the edge) send exactly the rule's Cache-Control in
// place of the route's Cache-Control and Expires; a response the cache
// stands aside for keeps the route's own; without the option, the route's
// header goes out as stored. The same cases on Express and Koa, over real
// HTTP and a real Redis, counting the route's runs.

const RULE_CC = 'public, max-age=60'
const ROUTE_CC = 'max-age=5'
const ROUTE_EXPIRES = 'Thu, 01 Jan 2099 00:00:00 GMT'

const rules: CacheRule[] = [
  { path: '/cc/:id', ttl: '5s', staleWhileRevalidate: '30s', cacheControl: RULE_CC },
  { path: '/mine', ttl: '5s', perUser: true, cacheControl: { private: true, maxAge: '1m' } },
  { path: '/plain/:id', ttl: '5s' },
  { path: '/origin/:id', ttl: 'origin' },
]

type Mode = 'ok' | 'cookie' | 'fail' | 'missing' | 'stream'

interface Origin {
  calls: Record<string, number>
}

/** What every route answers: the route's own Cache-Control and Expires, and its run count. */
function answer(origin: Origin, route: string, mode: Mode) {
  const n = (origin.calls[route] ?? 0) + 1
  origin.calls[route] = n
  const headers: Record<string, string> = {
    'cache-control': route === 'origin' ? 'public, max-age=30' : ROUTE_CC,
    expires: ROUTE_EXPIRES,
    'content-type': 'text/plain',
  }
  if (mode === 'cookie') {
    headers['set-cookie'] = 'session=abc'
    headers['cache-control'] = 'private'
  }
  if (mode === 'fail') headers['cache-control'] = 'no-store'
  const status = mode === 'fail' ? 503 : mode === 'missing' ? 404 : 200
  return { status, headers, body: `${route} v${n}` }
}

function modeOf(query: Record<string, unknown>): Mode {
  const m = query.mode
  return typeof m === 'string' ? (m as Mode) : 'ok'
}

interface TestApp {
  listener: RequestListener
  cache: CacheHandle
  origin: Origin
}

function expressApp(options: CacheOptions): TestApp {
  const origin: Origin = { calls: {} }
  const app = express()
  app.use((req, _res, next) => {
    const user = /^Bearer (\w+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (user !== undefined) (req as { user?: string }).user = user
    next()
  })
  const cache = expressCache(options)
  app.use(cache)
  app.get(['/cc/:id', '/mine', '/plain/:id', '/origin/:id'], (req, res) => {
    const route = req.path.split('/')[1] as string
    const mode = modeOf(req.query)
    const a = answer(origin, route, mode)
    res.status(a.status).set(a.headers)
    if (mode !== 'stream') {
      res.send(a.body)
      return
    }
    res.write(`${a.body} `)
    setTimeout(() => res.end('(streamed)'), 2)
  })
  return { listener: app as unknown as RequestListener, cache, origin }
}

function koaApp(options: CacheOptions): TestApp {
  const origin: Origin = { calls: {} }
  const app = new Koa()
  app.use(async (ctx, next) => {
    const user = /^Bearer (\w+)$/.exec(ctx.get('authorization'))?.[1]
    if (user !== undefined) ctx.state.user = user
    await next()
  })
  const cache = koaCache(options)
  app.use(cache)
  app.use(async (ctx) => {
    const route = ctx.path.split('/')[1] as string
    const mode = modeOf(ctx.query)
    const a = answer(origin, route, mode)
    ctx.status = a.status
    ctx.set(a.headers)
    ctx.body = mode === 'stream' ? Readable.from([`${a.body} `, '(streamed)']) : a.body
  })
  return { listener: app.callback(), cache, origin }
}

const adapters = [
  ['express', expressApp],
  ['koa', koaApp],
] as const

// Freshness is `Date.now()` in the engine: moving it jumps past the ttl without sleeping.
const realNow = Date.now
function advanceClock(ms: number): void {
  const shifted = Date.now
  Date.now = () => shifted() + ms
}

async function until(what: string, done: () => boolean, limitMs = 5_000): Promise<void> {
  const deadline = realNow() + limitMs
  while (!done()) {
    if (realNow() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

interface Running {
  app: TestApp
  server: http.Server
  url: string
}

async function start(app: TestApp, listener = app.listener): Promise<Running> {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { app, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

async function stop(r: Running): Promise<void> {
  await new Promise<void>((resolve) => {
    r.server.close(() => resolve())
    r.server.closeAllConnections()
  })
  await r.app.cache.close()
}

describe.each(adapters)('cacheControl on %s', (_name, build) => {
  let prefix: string
  let running: Running[] = []
  const options = (): CacheOptions => ({
    rules,
    store: { l2: redisTier({ client: sharedRedisUrl(), prefix }) },
  })
  const launch = async (listenerOf?: (app: TestApp) => RequestListener) => {
    const app = build(options())
    await app.cache.ready
    const r = await start(app, listenerOf?.(app))
    running.push(r)
    return r
  }
  const calls = (route: string) => running.reduce((n, r) => n + (r.app.origin.calls[route] ?? 0), 0)

  beforeEach(() => {
    prefix = `client-cc-${randomBytes(6).toString('hex')}`
  })

  afterEach(async () => {
    Date.now = realNow
    await Promise.all(running.map(stop))
    running = []
  })

  test('the stored miss and every hit, memory and Redis, send the rule’s header', async () => {
    const a = await launch()
    const miss = await request(a.url).get('/cc/1').expect(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.headers['cache-control']).toBe(RULE_CC)
    expect(miss.headers.expires).toBeUndefined()
    await a.app.cache.engine.settled()

    const hit = await request(a.url).get('/cc/1').expect(200)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-status']).toMatch(/^cachet; hit/)
    expect(hit.headers['cache-control']).toBe(RULE_CC)
    expect(hit.headers.expires).toBeUndefined()
    // max-age goes out as configured; Age says how much of it is gone.
    expect(hit.headers.age).toMatch(/^\d+$/)
    expect(hit.text).toBe('cc v1')

    // Another process on the same Redis: a shared-tier hit.
    const b = await launch()
    const shared = await request(b.url).get('/cc/1').expect(200)
    expect(shared.headers['x-cache']).toBe('HIT')
    expect(shared.headers['cache-control']).toBe(RULE_CC)
    expect(shared.headers.expires).toBeUndefined()
    expect(shared.text).toBe('cc v1')
    expect(b.app.cache.stats().rules[0]?.hits.shared).toBe(1)
    expect(calls('cc')).toBe(1)
  })

  test('a 304 and HEAD (cold and warm) send it too', async () => {
    const a = await launch()
    const head = await request(a.url).head('/cc/2').expect(200)
    expect(head.headers['x-cache']).toBe('MISS')
    expect(head.headers['cache-control']).toBe(RULE_CC)
    const miss = await request(a.url).get('/cc/2').expect(200)
    expect(miss.headers['x-cache']).toBe('HIT')
    const etag = miss.headers.etag as string
    expect(etag).toBeDefined()

    const notModified = await request(a.url).get('/cc/2').set('if-none-match', etag).expect(304)
    expect(notModified.headers['cache-control']).toBe(RULE_CC)
    expect(notModified.headers.expires).toBeUndefined()
    const warmHead = await request(a.url).head('/cc/2').expect(200)
    expect(warmHead.headers['x-cache']).toBe('HIT')
    expect(warmHead.headers['cache-control']).toBe(RULE_CC)
    expect(calls('cc')).toBe(1)
  })

  test('a streamed miss sends it, and so do its hits', async () => {
    const a = await launch()
    const miss = await request(a.url).get('/cc/3?mode=stream').expect(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.headers['cache-control']).toBe(RULE_CC)
    expect(miss.text).toBe('cc v1 (streamed)')
    await a.app.cache.engine.settled()
    const hit = await request(a.url).get('/cc/3?mode=stream').expect(200)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-control']).toBe(RULE_CC)
    expect(calls('cc')).toBe(1)
  })

  test('a stale copy and its background refresh send it', async () => {
    const a = await launch()
    await request(a.url).get('/cc/4').expect(200)
    await a.app.cache.engine.settled()
    advanceClock(6_000)
    const stale = await request(a.url).get('/cc/4').expect(200)
    expect(stale.headers['x-cache']).toBe('STALE')
    expect(stale.headers['cache-control']).toBe(RULE_CC)
    expect(stale.text).toBe('cc v1')
    await until('the background refresh', () => calls('cc') === 2)
    await a.app.cache.engine.settled()
    await until('the refreshed copy', () => a.app.cache.stats().revalidations.stored === 1)
    const hit = await request(a.url).get('/cc/4').expect(200)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-control']).toBe(RULE_CC)
    expect(hit.text).toBe('cc v2')
    expect(calls('cc')).toBe(2)
  })

  test('a hit at the edge sends it', async () => {
    const a = await launch((app) => app.cache.edge(app.listener))
    await request(a.url).get('/cc/5').expect(200)
    await a.app.cache.engine.settled()
    const hit = await request(a.url).get('/cc/5').expect(200)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-control']).toBe(RULE_CC)
    expect(calls('cc')).toBe(1)
  })

  test('a per-user rule’s private header, on its miss and its hit', async () => {
    const a = await launch()
    const auth = 'Bearer ann'
    const miss = await request(a.url).get('/mine').set('authorization', auth).expect(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.headers['cache-control']).toBe('private, max-age=60')
    await a.app.cache.engine.settled()
    const hit = await request(a.url).get('/mine').set('authorization', auth).expect(200)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-control']).toBe('private, max-age=60')
    expect(calls('mine')).toBe(1)
  })

  test.each<[string, string, Record<string, string>, number, string]>([
    ['credentials', '/cc/6', { authorization: 'Bearer ann' }, 200, ROUTE_CC],
    ['Set-Cookie', '/cc/7?mode=cookie', {}, 200, 'private'],
    ['an error status', '/cc/8?mode=fail', {}, 503, 'no-store'],
    ['a status the rule does not store', '/cc/9?mode=missing', {}, 404, ROUTE_CC],
  ])(
    'a response bypassed for %s keeps the route’s header',
    async (_why, path, headers, status, cc) => {
      const a = await launch()
      for (let i = 1; i <= 2; i++) {
        const r = await request(a.url).get(path).set(headers).expect(status)
        expect(r.headers['x-cache']).toBe('BYPASS')
        expect(r.headers['cache-control']).toBe(cc)
        expect(r.headers['cache-control']).not.toBe(RULE_CC)
        expect(calls('cc')).toBe(i)
      }
    },
  )

  test('without the option, the route’s header goes out on the miss and every hit, as before', async () => {
    const a = await launch()
    const miss = await request(a.url).get('/plain/1').expect(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.headers['cache-control']).toBe(ROUTE_CC)
    expect(miss.headers.expires).toBe(ROUTE_EXPIRES)
    await a.app.cache.engine.settled()
    const hit = await request(a.url).get('/plain/1').expect(200)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-control']).toBe(ROUTE_CC)
    expect(hit.headers.expires).toBe(ROUTE_EXPIRES)
    const etag = hit.headers.etag as string
    const notModified = await request(a.url).get('/plain/1').set('if-none-match', etag).expect(304)
    expect(notModified.headers['cache-control']).toBe(ROUTE_CC)
    const b = await launch()
    const shared = await request(b.url).get('/plain/1').expect(200)
    expect(shared.headers['x-cache']).toBe('HIT')
    expect(shared.headers['cache-control']).toBe(ROUTE_CC)
    expect(calls('plain')).toBe(1)
  })

  test('an origin-driven rule sends the origin’s header, even with a default cacheControl', async () => {
    const app = build({ ...options(), defaults: { cacheControl: RULE_CC } })
    await app.cache.ready
    const a = await start(app)
    running.push(a)
    const miss = await request(a.url).get('/origin/1').expect(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.headers['cache-control']).toBe('public, max-age=30')
    await app.cache.engine.settled()
    const hit = await request(a.url).get('/origin/1').expect(200)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.headers['cache-control']).toBe('public, max-age=30')
    // The default reaches the rule-driven rule without its own.
    const plain = await request(a.url).get('/plain/2').expect(200)
    expect(plain.headers['cache-control']).toBe(RULE_CC)
    expect(calls('origin')).toBe(1)
    expect(calls('plain')).toBe(1)
  })
})
