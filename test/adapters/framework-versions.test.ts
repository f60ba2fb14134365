import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { CacheRule } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import request from 'supertest'

// The adapters support Express 4 and 5 and Koa 2 and 3. The shops run on the
// current majors; this suite runs one small app on every major, each counting
// its origin calls, so that a difference between majors shows up here.
const express5 = require('express') as typeof import('express')
const express4 = require('express4') as typeof import('express')
const koa3 = require('koa') as typeof import('koa')
const koa2 = require('koa2') as typeof import('koa')

const rules: CacheRule[] = [
  { path: '/items/:id', ttl: 60, tags: ['item:{params.id}'] },
  { path: '/items/:id', methods: ['PUT'], invalidates: ['item:{params.id}'] },
  { path: '/chunks/:n', ttl: 60 },
  { path: '/cookie', ttl: 60 },
  { path: '/view/:id', ttl: 60, key: { query: ['lang'] } },
  { path: '/lang/:id', ttl: 60, key: { headers: ['accept-language'] } },
  { path: '/o/:id', ttl: 'origin' },
  { path: '/neg/:id', ttl: 'origin', passHeaders: ['accept-language'] },
]

interface TestApp {
  listener: RequestListener
  calls: Record<string, number>
}

const count = (calls: Record<string, number>, route: string) => {
  calls[route] = (calls[route] ?? 0) + 1
}

const LAST_MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT'

/** The reason phrase of a supertest response's status line (its `res` is the IncomingMessage). */
const statusMessageOf = (r: request.Response) =>
  (r as unknown as { res: http.IncomingMessage }).res.statusMessage

/** `/o/etag` and `/o/dated`: the validator each sends, and the conditional field the request carried for it. */
function validatorOf(
  id: string,
  headers: http.IncomingHttpHeaders,
): [string, string, string | undefined] {
  return id === 'etag'
    ? ['etag', '"v1"', headers['if-none-match']]
    : ['last-modified', LAST_MODIFIED, headers['if-modified-since']]
}

function chunk(i: number): string {
  return `${String(i).padStart(6, '0')}${'x'.repeat(1018)}`
}

function expressApp(express: typeof import('express')): TestApp {
  const calls: Record<string, number> = {}
  const app = express()
  app.use(expressCache(rules))
  app.get('/items/:id', (req, res) => {
    count(calls, 'item')
    res.json({ id: req.params.id, n: calls.item })
  })
  app.put('/items/:id', (_req, res) => {
    count(calls, 'put')
    res.json({ ok: true })
  })
  app.post('/purge/:id', async (req, res) => {
    await req.cache?.invalidate({ tags: [`item:${req.params.id}`] })
    res.sendStatus(204)
  })
  app.get('/chunks/:n', async (req, res) => {
    count(calls, 'chunks')
    res.type('text/plain')
    for (let i = 0; i < Number(req.params.n); i++) {
      if (!res.write(chunk(i))) await new Promise((r) => res.once('drain', r))
    }
    res.end()
  })
  app.get('/view/:id', (req, res) => {
    count(calls, 'view')
    res.json({ query: req.query, url: req.url, originalUrl: req.originalUrl, headers: req.headers })
  })
  app.get('/lang/:id', (req, res) => {
    count(calls, 'lang')
    if (req.params.id === 'declared') res.set('vary', 'Accept-Language')
    res.json({ lang: req.headers['accept-language'] ?? null })
  })
  app.post('/o/:id', (req, res) => {
    count(calls, 'post')
    if (typeof req.query.location === 'string') res.location(req.query.location)
    res.status(req.query.fail === undefined ? 200 : 500).json({ ok: true })
  })
  app.get('/o/:id', (req, res) => {
    count(calls, 'o')
    const id = req.params.id
    if (id === 'etag' || id === 'dated') {
      const [name, value, asked] = validatorOf(id, req.headers)
      res.set({ 'cache-control': 'no-cache', [name]: value })
      if (asked === value) {
        count(calls, 'notModified')
        res.status(304).set('x-revalidated', String(calls.notModified)).end()
        return
      }
    }
    if (id?.startsWith('fresh')) res.set({ 'cache-control': 'max-age=60', age: '30' })
    // Without Express's own ETag (res.send makes one): no validator at all.
    if (id === 'none') res.type('json').end(JSON.stringify({ id }))
    else res.json({ id })
  })
  app.get('/neg/:id', (req, res) => {
    count(calls, 'neg')
    res.set('cache-control', 'max-age=60')
    if (req.params.id === 'declared') res.vary('Accept-Language')
    res.json({ lang: req.headers['accept-language'] ?? null })
  })
  app.get('/cookie', (_req, res) => {
    count(calls, 'cookie')
    res.cookie('sid', 'abc').json({ ok: true })
  })
  return { listener: app as unknown as RequestListener, calls }
}

function koaApp(Koa: typeof import('koa')): TestApp {
  const calls: Record<string, number> = {}
  const app = new Koa()
  app.use(koaCache(rules))
  app.use(async (ctx) => {
    const [, section, id] = ctx.path.split('/')
    if (section === 'items' && ctx.method === 'PUT') {
      count(calls, 'put')
      ctx.body = { ok: true }
    } else if (section === 'items') {
      count(calls, 'item')
      ctx.body = { id, n: calls.item }
    } else if (section === 'purge' && ctx.method === 'POST') {
      await ctx.cache?.invalidate({ tags: [`item:${id}`] })
      ctx.status = 204
    } else if (section === 'chunks') {
      count(calls, 'chunks')
      ctx.type = 'text/plain'
      const n = Number(id)
      ctx.body = Readable.from(
        (function* () {
          for (let i = 0; i < n; i++) yield chunk(i)
        })(),
      )
    } else if (section === 'view') {
      count(calls, 'view')
      ctx.body = {
        query: ctx.query,
        url: ctx.url,
        originalUrl: ctx.originalUrl,
        headers: ctx.headers,
      }
    } else if (section === 'lang') {
      count(calls, 'lang')
      if (id === 'declared') ctx.vary('Accept-Language')
      ctx.body = { lang: ctx.get('accept-language') || null }
    } else if (section === 'o' && ctx.method === 'POST') {
      count(calls, 'post')
      if (typeof ctx.query.location === 'string') ctx.set('location', ctx.query.location)
      ctx.status = ctx.query.fail === undefined ? 200 : 500
      ctx.body = { ok: true }
    } else if (section === 'o') {
      count(calls, 'o')
      if (id === 'etag' || id === 'dated') {
        const [name, value, asked] = validatorOf(id, ctx.headers)
        ctx.set({ 'cache-control': 'no-cache', [name]: value })
        if (asked === value) {
          count(calls, 'notModified')
          ctx.status = 304
          ctx.set('x-revalidated', String(calls.notModified))
          return
        }
      }
      if (id?.startsWith('fresh')) ctx.set({ 'cache-control': 'max-age=60', age: '30' })
      ctx.body = { id }
    } else if (section === 'neg') {
      count(calls, 'neg')
      ctx.set('cache-control', 'max-age=60')
      if (id === 'declared') ctx.vary('Accept-Language')
      ctx.body = { lang: ctx.get('accept-language') || null }
    } else if (section === 'cookie') {
      count(calls, 'cookie')
      ctx.cookies.set('sid', 'abc')
      ctx.body = { ok: true }
    }
  })
  return { listener: app.callback(), calls }
}

const frameworks: Array<[string, () => TestApp]> = [
  ['express 5', () => expressApp(express5)],
  ['express 4', () => expressApp(express4)],
  ['koa 3', () => koaApp(koa3)],
  ['koa 2', () => koaApp(koa2)],
]

describe.each(frameworks)('%s', (_name, build) => {
  let server: http.Server
  let url: string
  let app: TestApp

  beforeEach(async () => {
    app = build()
    server = http.createServer(app.listener)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  test('JSON: MISS, then HIT without running the route', async () => {
    const first = await request(url).get('/items/1')
    const second = await request(url).get('/items/1')
    expect([first.status, first.headers['x-cache']]).toEqual([200, 'MISS'])
    expect([second.status, second.headers['x-cache']]).toEqual([200, 'HIT'])
    expect(second.body).toEqual({ id: '1', n: 1 })
    expect(second.headers['content-type']).toBe(first.headers['content-type'])
    expect(second.headers.etag).toBeDefined()
    expect(app.calls.item).toBe(1)
  })

  test('a streamed body is captured byte for byte', async () => {
    const expected = Array.from({ length: 40 }, (_, i) => chunk(i)).join('')
    const first = await request(url).get('/chunks/40')
    const second = await request(url).get('/chunks/40')
    expect(first.text).toBe(expected)
    expect(second.text).toBe(expected)
    expect(second.headers['x-cache']).toBe('HIT')
    expect(app.calls.chunks).toBe(1)
  })

  test('a 2xx write invalidates before it is answered', async () => {
    await request(url).get('/items/2')
    await request(url).put('/items/2').send({})
    const after = await request(url).get('/items/2')
    expect(after.headers['x-cache']).toBe('MISS')
    expect(after.body.n).toBe(2)
    expect(app.calls).toEqual({ item: 2, put: 1 })
  })

  test('invalidation from inside a request (req.cache / ctx.cache)', async () => {
    await request(url).get('/items/3')
    expect((await request(url).post('/purge/3')).status).toBe(204)
    expect((await request(url).get('/items/3')).headers['x-cache']).toBe('MISS')
    expect(app.calls.item).toBe(2)
  })

  test('Set-Cookie responses are never stored', async () => {
    const first = await request(url).get('/cookie')
    const second = await request(url).get('/cookie')
    expect(first.headers['set-cookie']).toBeDefined()
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS'])
    expect(app.calls.cookie).toBe(2)
  })

  test('a miss runs the route with only what the key holds (query and headers)', async () => {
    const first = await request(url)
      .get('/view/1?utm=x&lang=fr&lang%5B0%5D=en')
      .set('x-evil', 'evil')
      .set('user-agent', 'evil')
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.body.query).toEqual({ lang: 'fr' })
    expect(first.body.url).toBe('/view/1?lang=fr')
    expect(first.body.originalUrl).toBe('/view/1?lang=fr')
    expect(Object.keys(first.body.headers).sort()).toEqual([
      'accept-encoding',
      'connection',
      'host',
    ])
    const second = await request(url).get('/view/1?lang=fr')
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.body).toEqual(first.body)
    expect(app.calls.view).toBe(1)
  })

  test('a keyed header: its value reaches the route, each value is an entry, and Vary names it', async () => {
    const fr = await request(url).get('/lang/1').set('accept-language', 'fr')
    const en = await request(url).get('/lang/1').set('accept-language', 'en')
    const frHit = await request(url).get('/lang/1').set('accept-language', 'fr')
    expect([fr.headers['x-cache'], en.headers['x-cache'], frHit.headers['x-cache']]).toEqual([
      'MISS',
      'MISS',
      'HIT',
    ])
    expect([fr.body, en.body, frHit.body]).toEqual([{ lang: 'fr' }, { lang: 'en' }, { lang: 'fr' }])
    // One variant however the list is spaced; the route saw it as the key holds it.
    const spaced = await request(url).get('/lang/2').set('accept-language', 'fr ,en')
    const tight = await request(url).get('/lang/2').set('accept-language', 'fr,en')
    expect([spaced.headers['x-cache'], tight.headers['x-cache']]).toEqual(['MISS', 'HIT'])
    expect(tight.body).toEqual({ lang: 'fr, en' })
    // The keyed header the cache adds to Vary, on the miss and on the hit.
    expect(fr.headers.vary).toBe('accept-language')
    expect(frHit.headers.vary).toBe('accept-language')
    // A route that declares it already: named once.
    const declared = await request(url).get('/lang/declared').set('accept-language', 'fr')
    expect([declared.headers['x-cache'], declared.headers.vary]).toEqual([
      'MISS',
      'Accept-Language',
    ])
    expect(app.calls.lang).toBe(4)
  })

  test("ttl: 'origin': the response's Cache-Control and Age decide; none means not stored", async () => {
    const miss = await request(url).get('/o/fresh')
    const hit = await request(url).get('/o/fresh')
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT'])
    // The 30 s the response already had count: at most 30 s of freshness are left.
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(30)
    expect(hit.headers['cache-status']).toMatch(/^cachet; hit; ttl=(30|29|28)$/)
    const none = [await request(url).get('/o/none'), await request(url).get('/o/none')]
    for (const r of none) {
      expect(r.headers['x-cache']).toBe('BYPASS')
      expect(r.headers['cache-status']).toBe('cachet; fwd=miss; detail=no-lifetime')
    }
    expect(app.calls.o).toBe(3)
  })

  test("ttl: 'origin': a copy to revalidate (no-cache) is asked about with its validator; the route's 304 refreshes it", async () => {
    for (const [id, field] of [
      ['etag', 'etag'],
      ['dated', 'last-modified'],
    ] as const) {
      const first = await request(url).get(`/o/${id}`)
      expect([first.status, first.headers['x-cache'], first.headers['cache-status']]).toEqual([
        200,
        'MISS',
        'cachet; fwd=miss',
      ])
      // Stored stale: the next request goes to the route with the copy's
      // validator; the route answers 304 and the client gets the stored body.
      const second = await request(url).get(`/o/${id}`)
      expect([second.status, second.headers['x-cache'], second.headers['cache-status']]).toEqual([
        200,
        'HIT',
        'cachet; fwd=stale; fwd-status=304; ttl=0',
      ])
      // The status line is the copy's: not the route's 304 reason phrase.
      expect(statusMessageOf(second)).toBe('OK')
      expect(second.body).toEqual({ id })
      expect(second.headers[field]).toBe(first.headers[field])
      expect(second.headers['content-type']).toBe(first.headers['content-type'])
      // A field of the 304 is merged into the copy.
      expect(second.headers['x-revalidated']).toBe('1')
      // The client's own conditional is answered by the cache from the copy,
      // refreshed once more by the route's 304 (the client's field never reaches the route).
      const conditional =
        field === 'etag' ? { 'if-none-match': '"v1"' } : { 'if-modified-since': LAST_MODIFIED }
      const third = await request(url).get(`/o/${id}`).set(conditional)
      expect([third.status, third.headers['x-cache']]).toEqual([304, 'HIT'])
      expect(statusMessageOf(third)).toBe('Not Modified')
      expect(app.calls.notModified).toBe(2)
      // HEAD: revalidated the same way, no body.
      const head = await request(url).head(`/o/${id}`)
      expect([head.status, head.headers['x-cache'], head.text]).toEqual([200, 'HIT', undefined])
      expect(head.headers['x-revalidated']).toBe('3')
      app.calls.notModified = 0
    }
    // Each request went to the route; all but the first were answered 304 there.
    expect(app.calls.o).toBe(8)
  })

  test("ttl: 'origin': a 2xx POST to the path invalidates it first; a 5xx does not", async () => {
    await request(url).get('/o/fresh')
    expect((await request(url).get('/o/fresh')).headers['x-cache']).toBe('HIT')
    expect((await request(url).post('/o/fresh?fail=1')).status).toBe(500)
    expect((await request(url).get('/o/fresh')).headers['x-cache']).toBe('HIT')
    expect((await request(url).post('/o/fresh')).status).toBe(200)
    expect((await request(url).get('/o/fresh')).headers['x-cache']).toBe('MISS')
    expect(app.calls).toMatchObject({ o: 2, post: 2 })
  })

  test("ttl: 'origin': a 2xx POST whose Location names another cached path invalidates it too", async () => {
    for (const path of ['/o/fresh1', '/o/fresh2']) await request(url).get(path)
    expect((await request(url).post('/o/new?location=/o/fresh1')).status).toBe(200)
    expect((await request(url).get('/o/fresh1')).headers['x-cache']).toBe('MISS')
    expect((await request(url).get('/o/fresh2')).headers['x-cache']).toBe('HIT')
    expect(app.calls).toMatchObject({ o: 3, post: 1 })
  })

  test("ttl: 'origin': a passed header the response's Vary names selects the variant; undeclared, one copy for all", async () => {
    const get = (path: string, lang: string) => request(url).get(path).set('accept-language', lang)
    const declared = [
      await get('/neg/declared', 'fr'),
      await get('/neg/declared', 'en'),
      await get('/neg/declared', 'fr'),
      await get('/neg/declared', 'en'),
    ]
    expect(declared.map((r) => [r.headers['x-cache'], r.body.lang])).toEqual([
      ['MISS', 'fr'],
      ['MISS', 'en'],
      ['HIT', 'fr'],
      ['HIT', 'en'],
    ])
    expect(declared[2]?.headers.vary).toBe('Accept-Language')
    expect(app.calls.neg).toBe(2)
    // A route that varies without saying so: the origin's word is taken, one copy.
    await get('/neg/plain', 'fr')
    const other = await get('/neg/plain', 'en')
    expect([other.headers['x-cache'], other.body.lang]).toEqual(['HIT', 'fr'])
    expect(app.calls.neg).toBe(3)
  })

  test('HEAD: a cold HEAD fills the GET entry', async () => {
    const head = await request(url).head('/items/4')
    const get = await request(url).get('/items/4')
    expect([head.status, head.headers['x-cache']]).toEqual([200, 'MISS'])
    expect(get.headers['x-cache']).toBe('HIT')
    expect(head.headers['content-length']).toBe(get.headers['content-length'])
    expect(app.calls.item).toBe(1)
  })
})
