import { randomBytes } from 'node:crypto'
import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CacheHandle, CacheOptions } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import type { Context } from 'koa'
import { sharedRedisUrl } from '../support/redis/shared'
import { send } from '../support/shops'

// The strong ETag of a stored 200 without a validator of its own comes from
// the `etag` package (DESIGN.md), is computed once, when the copy is stored,
// and never on a hit: every hit, from memory or from Redis, replays the
// stored tag. The package's export is wrapped to count its calls (the real
// function still runs); the frameworks' own ETags are switched off, so that
// every call counted is cachet's.
jest.mock('etag', () => {
  const real = jest.requireActual<typeof import('etag')>('etag')
  return jest.fn(real)
})
const etagCalls = (require('etag') as jest.Mock).mock
const realEtag = jest.requireActual<typeof import('etag')>('etag')

const express5 = require('express') as typeof import('express')
const express4 = require('express4') as typeof import('express')
const koa3 = require('koa') as typeof import('koa')
const koa2 = require('koa2') as typeof import('koa')

const PARTS = ['part one, ', 'part two, ', 'part three']

interface TestApp {
  listener: RequestListener
  cache: CacheHandle
  calls: { doc: number; parts: number }
}

function expressApp(express: typeof import('express'), options: CacheOptions): TestApp {
  const calls = { doc: 0, parts: 0 }
  const app = express()
  app.set('etag', false)
  const cache = expressCache(options)
  app.use(cache)
  app.get('/doc/:id', (req, res) => {
    calls.doc++
    res.type('text/plain').send(`document ${req.params.id}`)
  })
  // Several writes: the headers go before the body is known, so only the stored copy has the tag.
  app.get('/parts', (_req, res) => {
    calls.parts++
    res.type('text/plain')
    for (const p of PARTS) res.write(p)
    res.end()
  })
  return { listener: app as unknown as RequestListener, cache, calls }
}

function koaApp(Koa: typeof import('koa'), options: CacheOptions): TestApp {
  const calls = { doc: 0, parts: 0 }
  const app = new Koa()
  const cache = koaCache(options)
  app.use(cache)
  app.use(async (ctx: Context) => {
    const [, section, id] = ctx.path.split('/')
    ctx.type = 'text/plain'
    if (section === 'doc') {
      calls.doc++
      ctx.body = `document ${id}`
    } else if (section === 'parts') {
      calls.parts++
      const { Readable } = await import('node:stream')
      ctx.body = Readable.from(PARTS)
    }
  })
  return { listener: app.callback(), cache, calls }
}

const frameworks = [
  { name: 'express 5', build: (o: CacheOptions) => expressApp(express5, o) },
  { name: 'express 4', build: (o: CacheOptions) => expressApp(express4, o) },
  { name: 'koa 3', build: (o: CacheOptions) => koaApp(koa3, o) },
  { name: 'koa 2', build: (o: CacheOptions) => koaApp(koa2, o) },
]

const rules = [
  { path: '/doc/:id', ttl: 60 },
  { path: '/parts', ttl: 60 },
]

async function listen(app: TestApp): Promise<{ url: string; close(): Promise<void> }> {
  await app.cache.ready
  const server = http.createServer(app.listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await app.cache.close()
    },
  }
}

const HITS = 20

describe.each(frameworks)('$name', ({ build }) => {
  beforeEach(() => etagCalls.calls.splice(0))

  test('one ETag computation per stored copy, none on memory or Redis hits', async () => {
    const prefix = `etag-${randomBytes(6).toString('hex')}`
    const options = (): CacheOptions => ({
      rules,
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: '1s' }) },
    })
    const a = build(options())
    const b = build(options())
    const [sa, sb] = [await listen(a), await listen(b)]
    try {
      const expected = realEtag(Buffer.from('document 1'))
      expect(expected).toMatch(/^"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/)

      const miss = await send(sa.url, { path: '/doc/1' })
      expect([miss.status, miss.headers['x-cache'], miss.headers.etag]).toEqual([
        200,
        'MISS',
        expected,
      ])
      expect(etagCalls.calls).toHaveLength(1)

      for (let i = 0; i < HITS; i++) {
        const hit = await send(sa.url, { path: '/doc/1' })
        expect([hit.headers['x-cache'], hit.headers.etag]).toEqual(['HIT', expected])
      }
      // Another process: its memory is empty, its hits come from Redis.
      for (let i = 0; i < HITS; i++) {
        const hit = await send(sb.url, { path: '/doc/1' })
        expect([hit.headers['x-cache'], hit.headers.etag]).toEqual(['HIT', expected])
      }
      const notModified = await send(sb.url, {
        path: '/doc/1',
        headers: { 'if-none-match': expected },
      })
      expect([notModified.status, notModified.headers.etag]).toEqual([304, expected])
      expect(etagCalls.calls).toHaveLength(1)
      expect(a.calls.doc + b.calls.doc).toBe(1)

      // A streamed body: the miss's headers went before its end, the stored copy has the tag.
      const streamed = await send(sa.url, { path: '/parts' })
      expect([streamed.headers['x-cache'], streamed.body.toString()]).toEqual([
        'MISS',
        PARTS.join(''),
      ])
      expect(etagCalls.calls).toHaveLength(2)
      const partsTag = realEtag(Buffer.from(PARTS.join('')))
      for (const url of [sa.url, sb.url, sa.url]) {
        const hit = await send(url, { path: '/parts' })
        expect([hit.headers['x-cache'], hit.headers.etag]).toEqual(['HIT', partsTag])
      }
      expect(etagCalls.calls).toHaveLength(2)
      expect(a.calls.parts + b.calls.parts).toBe(1)
    } finally {
      await sa.close()
      await sb.close()
    }
  })
})
