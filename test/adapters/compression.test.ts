import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'
import type { CacheRule } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import compression from 'compression'
import express from 'express'
import Koa from 'koa'
import koaCompress from 'koa-compress'
import { type RawReply, rawRequest } from '../support/raw-http'

// The cache with the compression middleware of each framework (expressjs/
// compression, koa-compress) mounted before it (outside) and after it (between
// the cache and the route): every response must decode to the route's bytes
// under the Content-Encoding it carries, and no stored copy may be served
// under an encoding the client did not ask for.

const BODY = `${'cachet compresses well. '.repeat(200)}\n`

type Order = 'before' | 'after'

interface App {
  listener: RequestListener
  calls: () => number
}

function rules(keyEncoding: boolean): CacheRule[] {
  return [
    {
      path: '/doc/:id',
      ttl: 60,
      key: keyEncoding ? { headers: ['accept-encoding'] } : undefined,
    },
  ]
}

function expressApp(order: Order, keyEncoding: boolean): App {
  let calls = 0
  const app = express()
  const cache = expressCache(rules(keyEncoding))
  const compress = compression({ threshold: 0 })
  if (order === 'before') app.use(compress, cache)
  else app.use(cache, compress)
  app.get('/doc/:id', (_req, res) => {
    calls++
    res.type('text/plain').send(BODY)
  })
  return { listener: app as unknown as RequestListener, calls: () => calls }
}

function koaApp(order: Order, keyEncoding: boolean): App {
  let calls = 0
  const app = new Koa()
  const cache = koaCache(rules(keyEncoding))
  const compress = koaCompress({ threshold: 0 })
  if (order === 'before') app.use(compress).use(cache)
  else app.use(cache).use(compress)
  app.use(async (ctx) => {
    calls++
    ctx.type = 'text/plain'
    ctx.body = BODY
  })
  return { listener: app.callback(), calls: () => calls }
}

type Raw = RawReply

/** A GET with exactly this Accept-Encoding, the body as the bytes on the wire. */
function get(base: string, path: string, acceptEncoding: string): Promise<Raw> {
  return rawRequest(base, path, { headers: { 'accept-encoding': acceptEncoding } })
}

function decode(r: Raw): string {
  const encoding = r.headers['content-encoding']
  if (encoding === undefined || encoding === 'identity') return r.body.toString()
  if (encoding === 'gzip') return zlib.gunzipSync(r.body).toString()
  if (encoding === 'br') return zlib.brotliDecompressSync(r.body).toString()
  if (encoding === 'deflate') return zlib.inflateSync(r.body).toString()
  throw new Error(`unexpected Content-Encoding ${encoding}`)
}

/** The response decodes to the route's bytes, in an encoding the request accepted. */
function expectDecodes(r: Raw, acceptEncoding: string): void {
  expect(r.status).toBe(200)
  const encoding = r.headers['content-encoding']
  if (encoding !== undefined) expect(acceptEncoding).toContain(encoding)
  expect(decode(r)).toBe(BODY)
}

const frameworks: Array<[string, (order: Order, keyEncoding: boolean) => App]> = [
  ['express + compression', expressApp],
  ['koa + koa-compress', koaApp],
]

describe.each(frameworks)('%s', (_name, build) => {
  let server: http.Server | undefined
  let app: App
  let base: string

  async function start(order: Order, keyEncoding = false): Promise<void> {
    app = build(order, keyEncoding)
    server = http.createServer(app.listener)
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve))
  })

  test('mounted before the cache: the cache stores the identity bytes; every client decodes them', async () => {
    await start('before')
    const gzipMiss = await get(base, '/doc/1', 'gzip')
    const identityHit = await get(base, '/doc/1', 'identity')
    const gzipHit = await get(base, '/doc/1', 'gzip, deflate, br')
    expect([gzipMiss, identityHit, gzipHit].map((r) => r.headers['x-cache'])).toEqual([
      'MISS',
      'HIT',
      'HIT',
    ])
    expectDecodes(gzipMiss, 'gzip')
    expect(gzipMiss.headers['content-encoding']).toBe('gzip')
    expectDecodes(identityHit, 'identity')
    expect(identityHit.headers['content-encoding']).toBeUndefined()
    expectDecodes(gzipHit, 'gzip, deflate, br')
    expect(app.calls()).toBe(1)
  })

  test('mounted after the cache, Accept-Encoding not keyed: never stored (Vary names it)', async () => {
    await start('after')
    const replies = [
      await get(base, '/doc/2', 'gzip'),
      await get(base, '/doc/2', 'identity'),
      await get(base, '/doc/2', 'gzip'),
    ]
    expectDecodes(replies[0] as Raw, 'gzip')
    expectDecodes(replies[1] as Raw, 'identity')
    expectDecodes(replies[2] as Raw, 'gzip')
    for (const r of replies) {
      expect(r.headers['x-cache']).toBe('BYPASS')
      expect(r.headers['cache-status']).toBe('cachet; fwd=miss; detail=vary')
    }
    expect(app.calls()).toBe(3)
  })

  test('mounted after the cache, Accept-Encoding keyed: one entry per encoding asked, each served as stored', async () => {
    await start('after', true)
    const gzipMiss = await get(base, '/doc/3', 'gzip')
    const gzipHit = await get(base, '/doc/3', 'gzip')
    const identityMiss = await get(base, '/doc/3', 'identity')
    const identityHit = await get(base, '/doc/3', 'identity')
    expect([gzipMiss, gzipHit, identityMiss, identityHit].map((r) => r.headers['x-cache'])).toEqual(
      ['MISS', 'HIT', 'MISS', 'HIT'],
    )
    expect(gzipHit.headers['content-encoding']).toBe('gzip')
    expect(identityHit.headers['content-encoding']).toBeUndefined()
    expectDecodes(gzipHit, 'gzip')
    expectDecodes(identityHit, 'identity')
    expect(gzipHit.headers.vary?.toLowerCase()).toContain('accept-encoding')
    expect(app.calls()).toBe(2)
  })
})

// A CORS layer mounted before the cache sets its headers for each request
// before the route runs: they are the outer layer's, so the entry neither keeps
// them (one origin's Access-Control-Allow-Origin would reach another) nor
// refuses to be stored because of their `Vary: Origin`.
const outerLayers: Array<[string, () => App]> = [
  [
    'express',
    () => {
      let calls = 0
      const app = express()
      app.use((req, res, next) => {
        res.setHeader('access-control-allow-origin', String(req.headers.origin))
        res.setHeader('vary', 'Origin')
        next()
      })
      app.use(expressCache(rules(false)))
      app.get('/doc/:id', (_req, res) => {
        calls++
        res.type('text/plain').send(BODY)
      })
      return { listener: app as unknown as RequestListener, calls: () => calls }
    },
  ],
  [
    'koa',
    () => {
      let calls = 0
      const app = new Koa()
      app.use(async (ctx, next) => {
        ctx.set('access-control-allow-origin', ctx.get('origin'))
        ctx.vary('Origin')
        await next()
      })
      app.use(koaCache(rules(false)))
      app.use(async (ctx) => {
        calls++
        ctx.type = 'text/plain'
        ctx.body = BODY
      })
      return { listener: app.callback(), calls: () => calls }
    },
  ],
]

describe.each(outerLayers)(
  '%s: headers set before the cache are the outer layer’s',
  (_n, build) => {
    test('a CORS layer in front: stored once, each origin gets its own Allow-Origin', async () => {
      const app = build()
      const server = http.createServer(app.listener)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const send = async (origin: string) =>
        (await rawRequest(base, '/doc/9', { headers: { origin } })).headers
      try {
        const a = await send('https://a.example')
        const b = await send('https://b.example')
        expect([a['x-cache'], b['x-cache']]).toEqual(['MISS', 'HIT'])
        expect(a['access-control-allow-origin']).toBe('https://a.example')
        expect(b['access-control-allow-origin']).toBe('https://b.example')
        expect(b.vary).toBe('Origin')
        expect(app.calls()).toBe(1)
      } finally {
        await new Promise((resolve) => server.close(resolve))
      }
    })
  },
)

// `compress: true`: the cache stores br and gzip encodings once and answers
// each hit in the coding its client prefers, with no compression on the hit.
const compressRules: CacheRule[] = [{ path: '/doc/:id', ttl: 60, compress: true }]

const storedEncodings: Array<[string, (withCompression: boolean) => App]> = [
  [
    'express',
    (withCompression) => {
      let calls = 0
      const app = express()
      if (withCompression) app.use(compression({ threshold: 0 }))
      app.use(expressCache(compressRules))
      app.get('/doc/:id', (_req, res) => {
        calls++
        res.type('text/plain').send(BODY)
      })
      return { listener: app as unknown as RequestListener, calls: () => calls }
    },
  ],
  [
    'koa',
    (withCompression) => {
      let calls = 0
      const app = new Koa()
      if (withCompression) app.use(koaCompress({ threshold: 0 }))
      app.use(koaCache(compressRules))
      app.use(async (ctx) => {
        calls++
        ctx.type = 'text/plain'
        ctx.body = BODY
      })
      return { listener: app.callback(), calls: () => calls }
    },
  ],
]

describe.each(storedEncodings)('%s, compress: true', (_name, build) => {
  async function withServer(app: App, run: (base: string) => Promise<void>): Promise<void> {
    const server = http.createServer(app.listener)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  }

  test.each([false, true])(
    'each hit in the coding its client prefers, from one origin call (compression middleware in front: %s)',
    async (withCompression) => {
      const app = build(withCompression)
      await withServer(app, async (base) => {
        await get(base, '/doc/1', 'identity')
        const br = await get(base, '/doc/1', 'gzip, deflate, br')
        const gzip = await get(base, '/doc/1', 'gzip')
        const plain = await get(base, '/doc/1', 'identity')
        for (const [r, accepted, coding] of [
          [br, 'gzip, deflate, br', 'br'],
          [gzip, 'gzip', 'gzip'],
          [plain, 'identity', undefined],
        ] as const) {
          expect(r.headers['x-cache']).toBe('HIT')
          expect(r.headers['content-encoding']).toBe(coding)
          expect(r.headers.vary?.toLowerCase()).toContain('accept-encoding')
          expect(Number(r.headers['content-length'])).toBe(r.body.length)
          expectDecodes(r, accepted)
        }
        expect(br.body.length).toBeLessThan(BODY.length / 4)
        // Each representation has its own validator, and a 304 for it.
        expect(br.headers.etag).not.toBe(plain.headers.etag)
        const notModified = await rawRequest(base, '/doc/1', {
          headers: { 'accept-encoding': 'br', 'if-none-match': String(br.headers.etag) },
        })
        expect(notModified.status).toBe(304)
        expect(app.calls()).toBe(1)
      })
    },
  )
})
