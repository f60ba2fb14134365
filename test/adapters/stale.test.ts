import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheHandle, CacheRule } from '@cachet/core'
import { REVALIDATE_RETRY_MS } from '@cachet/core/adapter'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import type { Context, Next } from 'koa'
import { type Reply, type RequestSpec, send } from '../support/shops'

// Stale windows (RFC 5861) in small apps built directly on the adapters, on
// every supported major, for what the example shops cannot show: the many
// ways an Express or Koa origin fails (a throw, next(err), a rejected
// promise, the app's own error middleware, a streamed 5xx), a thrown 4xx that
// is an answer and not a failure, HEAD and If-None-Match on a stale copy, the
// background refresh of a per-user entry, and a refresh the app itself
// refuses before the cache sees it. Every test counts the route's runs.

const express5 = require('express') as typeof import('express')
const express4 = require('express4') as typeof import('express')
const koa3 = require('koa') as typeof import('koa')
const koa2 = require('koa2') as typeof import('koa')

const TTL_MS = 5_000
/** Past the ttl, inside both stale windows. */
const STALE_MS = TTL_MS + 1_000
/** Past the ttl and both stale windows (300 s). */
const PAST_WINDOWS_MS = TTL_MS + 301_000

const rules: CacheRule[] = [
  { path: '/sie/:id', ttl: '5s', staleIfError: '300s' },
  { path: '/swr/:id', ttl: '5s', staleWhileRevalidate: '30s' },
  { path: '/mine', ttl: '5s', staleWhileRevalidate: '30s', perUser: true },
  { path: '/gated/:id', ttl: '5s', staleWhileRevalidate: '30s' },
]

/** What the next call of `/sie/:id` does. */
type Mode =
  | 'ok'
  /** The route answers 503 itself. */
  | 'status-503'
  /** A synchronous throw (Express: to finalhandler; Koa: a plain Error). */
  | 'throw'
  /** Express: `next(err)` from a timer; Koa: a throw after an await. */
  | 'fail-later'
  /** An async route whose promise rejects (Express 5 and Koa). */
  | 'reject'
  /** A thrown error with `status: 503` (Koa: `ctx.throw(503)`). */
  | 'throw-503'
  /** A thrown 404 (Koa: `ctx.throw(404)`): an answer, not a failure. */
  | 'throw-404'
  /** An error the app's own error middleware answers with 500 JSON and a header of its own. */
  | 'error-json'
  /** A 503 streamed in several writes. */
  | 'stream-503'

interface AppState {
  mode: Mode
  calls: Record<string, number>
  /** Users the `/mine` route ran for, in order. */
  seen: string[]
  /** While true, the gate refuses `/gated/*` requests without `TE: trailers`. */
  requireTe: boolean
  /** Requests the gate refused. */
  refused: number
  /** Errors the app heard of (Koa's 'error' event). */
  errors: unknown[]
}

interface TestApp {
  listener: RequestListener
  cache: CacheHandle
  state: AppState
}

type Family = 'express' | 'koa'

interface Framework {
  name: string
  family: Family
  /** Whether the framework answers a route's rejected promise (Express 4 does not). */
  rejections: boolean
  build: () => TestApp
}

function newState(): AppState {
  return { mode: 'ok', calls: {}, seen: [], requireTe: false, refused: 0, errors: [] }
}

function count(state: AppState, route: string): number {
  state.calls[route] = (state.calls[route] ?? 0) + 1
  return state.calls[route]
}

const STREAM_PARTS = ['partial-1 ', 'partial-2 ', 'partial-3']

/** Demo auth: `Authorization: Bearer <id>` is user `<id>`. */
function bearerUser(header: string | undefined): string | undefined {
  return /^Bearer (\w+)$/.exec(header ?? '')?.[1]
}

function failWith(status: number, props: object = {}): Error {
  return Object.assign(new Error(`failed with ${status}`), { status, expose: status < 500 }, props)
}

function expressApp(express: typeof import('express')): TestApp {
  type Req = import('express').Request & { user?: { id: string } }
  type Res = import('express').Response
  type NextFn = import('express').NextFunction
  const state = newState()
  const app = express()
  app.use((req: Req, _res: Res, next: NextFn) => {
    const id = bearerUser(req.headers.authorization)
    if (id !== undefined) req.user = { id }
    next()
  })
  // A gateway check the cache's internal request cannot pass: it never
  // carries TE (a hop-by-hop header).
  app.use((req: Req, res: Res, next: NextFn) => {
    if (state.requireTe && req.path.startsWith('/gated/') && req.headers.te !== 'trailers') {
      state.refused++
      res.status(400).type('text/plain').send('TE: trailers required')
      return
    }
    next()
  })
  const cache = expressCache(rules)
  app.use(cache)

  app.get('/sie/:id', (req: Req, res: Res, next: NextFn) => {
    const n = count(state, 'sie')
    switch (state.mode) {
      case 'ok':
        res.set('x-origin', 'yes').type('text/plain').send(`item ${req.params.id} v${n}`)
        return
      case 'status-503':
        res.status(503).json({ error: 'down' })
        return
      case 'throw':
        throw new Error('boom')
      case 'fail-later':
        setTimeout(() => next(new Error('boom')), 5)
        return
      case 'reject':
        return (async () => {
          await sleep(5)
          throw new Error('boom')
        })()
      case 'throw-503':
        throw failWith(503)
      case 'throw-404':
        throw failWith(404)
      case 'error-json':
        next(Object.assign(new Error('boom'), { json: true }))
        return
      case 'stream-503':
        return (async () => {
          res.status(503).type('text/plain')
          for (const part of STREAM_PARTS) {
            res.write(part)
            await sleep(2)
          }
          res.end()
        })()
    }
  })
  app.get('/swr/:id', (req: Req, res: Res) => {
    const n = count(state, 'swr')
    res.type('text/plain').send(`swr ${req.params.id} v${n}`)
  })
  app.get('/mine', (req: Req, res: Res) => {
    const n = count(state, 'mine')
    state.seen.push(req.user?.id ?? '(nobody)')
    res.json({ user: req.user?.id, n })
  })
  app.get('/gated/:id', (req: Req, res: Res) => {
    const n = count(state, 'gated')
    res.type('text/plain').send(`gated ${req.params.id} v${n}`)
  })
  // The app's own error handler: JSON for the errors it knows, finalhandler for the rest.
  app.use((err: { json?: boolean }, _req: Req, res: Res, next: NextFn) => {
    if (err.json !== true) return next(err)
    res.set('x-error-id', 'e-1').status(500).json({ error: 'internal' })
  })
  return { listener: app as unknown as RequestListener, cache, state }
}

function koaApp(Koa: typeof import('koa')): TestApp {
  const state = newState()
  const app = new Koa()
  app.on('error', (err: unknown) => state.errors.push(err))
  app.use(async (ctx: Context, next: Next) => {
    const id = bearerUser(ctx.get('authorization') || undefined)
    if (id !== undefined) ctx.state.user = { id }
    await next()
  })
  app.use(async (ctx: Context, next: Next) => {
    if (state.requireTe && ctx.path.startsWith('/gated/') && ctx.get('te') !== 'trailers') {
      state.refused++
      ctx.status = 400
      ctx.type = 'text/plain'
      ctx.body = 'TE: trailers required'
      return
    }
    await next()
  })
  const cache = koaCache(rules)
  app.use(cache)
  // The app's own error handler below the cache: JSON for the errors it knows.
  app.use(async (ctx: Context, next: Next) => {
    try {
      await next()
    } catch (err) {
      if ((err as { json?: boolean }).json !== true) throw err
      ctx.status = 500
      ctx.set('x-error-id', 'e-1')
      ctx.body = { error: 'internal' }
    }
  })
  app.use(async (ctx: Context) => {
    const [, section, id] = ctx.path.split('/')
    if (section === 'sie') {
      const n = count(state, 'sie')
      switch (state.mode) {
        case 'ok':
          ctx.set('x-origin', 'yes')
          ctx.type = 'text/plain'
          ctx.body = `item ${id} v${n}`
          return
        case 'status-503':
          ctx.status = 503
          ctx.body = { error: 'down' }
          return
        case 'throw':
          throw new Error('boom')
        case 'fail-later':
        case 'reject':
          await sleep(5)
          throw new Error('boom')
        case 'throw-503':
          ctx.throw(503)
          return
        case 'throw-404':
          ctx.throw(404)
          return
        case 'error-json':
          throw Object.assign(new Error('boom'), { json: true })
        case 'stream-503':
          ctx.status = 503
          ctx.type = 'text/plain'
          ctx.body = Readable.from(STREAM_PARTS)
          return
      }
    } else if (section === 'swr') {
      const n = count(state, 'swr')
      ctx.type = 'text/plain'
      ctx.body = `swr ${id} v${n}`
    } else if (section === 'mine') {
      const n = count(state, 'mine')
      const user = (ctx.state.user as { id: string } | undefined)?.id
      state.seen.push(user ?? '(nobody)')
      ctx.body = { user, n }
    } else if (section === 'gated') {
      const n = count(state, 'gated')
      ctx.type = 'text/plain'
      ctx.body = `gated ${id} v${n}`
    }
  })
  return { listener: app.callback(), cache, state }
}

const frameworks: Framework[] = [
  { name: 'express 5', family: 'express', rejections: true, build: () => expressApp(express5) },
  { name: 'express 4', family: 'express', rejections: false, build: () => expressApp(express4) },
  { name: 'koa 3', family: 'koa', rejections: true, build: () => koaApp(koa3) },
  { name: 'koa 2', family: 'koa', rejections: true, build: () => koaApp(koa2) },
]

interface FailureCase {
  mode: Mode
  what: string
  /** The origin status `Cache-Status` reports (`fwd-status`); undefined: none (Koa saw a throw without one). */
  fwdStatus: Record<Family, number | undefined>
  /** The app hears of the error (Koa's 'error' event). */
  koaError: boolean
}

const failureCases: FailureCase[] = [
  {
    mode: 'status-503',
    what: 'the route answers 503',
    fwdStatus: { express: 503, koa: 503 },
    koaError: false,
  },
  {
    mode: 'throw',
    what: 'the route throws (Express: finalhandler 500; Koa: a plain Error)',
    fwdStatus: { express: 500, koa: undefined },
    koaError: true,
  },
  {
    mode: 'fail-later',
    what: 'the route fails asynchronously (Express: next(err) from a timer)',
    fwdStatus: { express: 500, koa: undefined },
    koaError: true,
  },
  {
    mode: 'reject',
    what: "an async route's promise rejects",
    fwdStatus: { express: 500, koa: undefined },
    koaError: true,
  },
  {
    mode: 'throw-503',
    what: 'the route throws an error with status 503',
    fwdStatus: { express: 503, koa: 503 },
    koaError: true,
  },
  {
    mode: 'error-json',
    what: "the app's own error middleware answers 500 JSON with its own header",
    fwdStatus: { express: 500, koa: 500 },
    koaError: false,
  },
  {
    mode: 'stream-503',
    what: 'the route streams a 503 in several writes',
    fwdStatus: { express: 503, koa: 503 },
    koaError: false,
  },
]

/** Headers an origin failure (or Express's finalhandler) sets that must not survive a stale answer. */
const FAILURE_HEADERS = [
  'x-error-id',
  'content-security-policy',
  'x-content-type-options',
  'transfer-encoding',
]

function staleIfErrorStatus(fwdStatus: number | undefined): RegExp {
  const fwd = fwdStatus === undefined ? '' : `; fwd-status=${fwdStatus}`
  return new RegExp(`^cachet; fwd=stale${fwd}; ttl=-\\d+; detail=stale-if-error$`)
}

const SWR_STATUS = /^cachet; hit; ttl=-\d+; detail=stale-while-revalidate$/

// --- the clock the cache reads ---------------------------------------------
// Freshness is `Date.now()` in the engine (see test/parity/run-scenario.ts);
// moving it forward jumps past a ttl or a window without sleeping. Timers are
// not moved, so real background work still runs in real time.
const realNow = Date.now
let shiftMs = 0

function advanceClock(ms: number): void {
  shiftMs += ms
  const shift = shiftMs
  Date.now = () => realNow() + shift
}

/** Polls `done` (real time, bounded) for background work nobody waits on. */
async function until(what: string, done: () => boolean, limitMs = 5_000): Promise<void> {
  const deadline = performance.now() + limitMs
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

describe.each(frameworks)('$name', ({ family, rejections, build }) => {
  let server: http.Server
  let url: string
  let app: TestApp

  const get = (path: string, headers?: Record<string, string>, method: 'GET' | 'HEAD' = 'GET') => {
    const spec: RequestSpec = { method, path }
    if (headers !== undefined) spec.headers = headers
    return send(url, spec)
  }
  const text = (reply: Reply) => reply.body.toString('utf8')
  const refreshes = () => app.cache.engine.stats().revalidations

  beforeEach(async () => {
    app = build()
    server = http.createServer(app.listener)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterEach(async () => {
    Date.now = realNow
    shiftMs = 0
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    await app.cache.close()
  })

  describe('stale-if-error: the origin fails inside the window', () => {
    const cases = failureCases.filter((c) => c.mode !== 'reject' || rejections)
    test.each(cases)('$what: the stale copy, 200, with its own headers only', async (c) => {
      const miss = await get('/sie/1')
      expect([miss.status, miss.headers['x-cache'], text(miss)]).toEqual([200, 'MISS', 'item 1 v1'])

      advanceClock(STALE_MS)
      app.state.mode = c.mode
      const stale = await get('/sie/1')
      expect([stale.status, stale.headers['x-cache'], text(stale)]).toEqual([
        200,
        'STALE',
        'item 1 v1',
      ])
      expect(stale.headers['cache-status']).toMatch(staleIfErrorStatus(c.fwdStatus[family]))
      // The status line is the copy's, reason phrase included, not the failure's.
      expect(stale.statusMessage).toBe('OK')
      // The stored entry's headers, and nothing of the failure's.
      expect(stale.headers['content-type']).toBe(miss.headers['content-type'])
      expect(stale.headers['content-length']).toBe(String(stale.body.length))
      expect(stale.headers.etag).toBe(miss.headers.etag)
      expect(stale.headers['x-origin']).toBe('yes')
      expect(Number(stale.headers.age)).toBeGreaterThanOrEqual(6)
      for (const name of FAILURE_HEADERS)
        expect([name, stale.headers[name]]).toEqual([name, undefined])
      if (family === 'koa') expect(app.state.errors.length).toBe(c.koaError ? 1 : 0)
      expect(app.state.calls.sie).toBe(2)

      // The failure was not stored and did not replace the good entry: the
      // origin is asked again, and its answer refreshes the entry.
      app.state.mode = 'ok'
      const fresh = await get('/sie/1')
      expect([fresh.status, fresh.headers['x-cache'], text(fresh)]).toEqual([
        200,
        'MISS',
        'item 1 v3',
      ])
      const hit = await get('/sie/1')
      expect([hit.headers['x-cache'], text(hit)]).toEqual(['HIT', 'item 1 v3'])
      expect(app.state.calls.sie).toBe(3)
    })

    test('a thrown 4xx is an answer: it passes through, not stale, and is not stored', async () => {
      await get('/sie/2')
      advanceClock(STALE_MS)
      app.state.mode = 'throw-404'
      const notFound = await get('/sie/2')
      expect(notFound.status).toBe(404)
      // Every response to a matched route says what the cache did, a thrown
      // error's too (Koa clears the headers set before a throw).
      expect([notFound.headers['x-cache'], notFound.headers['cache-status']]).toEqual([
        'BYPASS',
        'cachet; fwd=stale; detail=status',
      ])
      expect(text(notFound)).not.toContain('item 2 v1')
      if (family === 'koa') expect(app.state.errors).toHaveLength(1)

      // Neither the 404 nor anything else replaced the stale copy.
      app.state.mode = 'throw'
      const stale = await get('/sie/2')
      expect([stale.status, stale.headers['x-cache'], text(stale)]).toEqual([
        200,
        'STALE',
        'item 2 v1',
      ])
      app.state.mode = 'ok'
      const fresh = await get('/sie/2')
      expect([fresh.headers['x-cache'], text(fresh)]).toEqual(['MISS', 'item 2 v4'])
      expect(app.state.calls.sie).toBe(4)
    })

    test('past the window a thrown error is not answered stale', async () => {
      await get('/sie/3')
      advanceClock(PAST_WINDOWS_MS)
      app.state.mode = 'throw'
      const failed = await get('/sie/3')
      expect(failed.status).toBe(500)
      expect([failed.headers['x-cache'], failed.headers['cache-status']]).toEqual([
        'BYPASS',
        'cachet; fwd=miss; detail=status',
      ])
      expect(text(failed)).not.toContain('item 3 v1')
      app.state.mode = 'ok'
      const fresh = await get('/sie/3')
      expect([fresh.headers['x-cache'], text(fresh)]).toEqual(['MISS', 'item 3 v3'])
      expect(app.state.calls.sie).toBe(3)
    })

    test('HEAD: the stale copy’s status and headers, no body', async () => {
      const miss = await get('/sie/4')
      advanceClock(STALE_MS)
      app.state.mode = 'throw-503'
      const head = await get('/sie/4', undefined, 'HEAD')
      expect([head.status, head.headers['x-cache'], head.body.length]).toEqual([200, 'STALE', 0])
      expect(head.statusMessage).toBe('OK')
      expect(head.headers['content-length']).toBe(String(miss.body.length))
      expect(head.headers['content-type']).toBe(miss.headers['content-type'])
      expect(head.headers['cache-status']).toMatch(staleIfErrorStatus(503))
      expect(app.state.calls.sie).toBe(2)
    })

    test("If-None-Match with the stale copy's ETag: 304 STALE, no body", async () => {
      const miss = await get('/sie/5')
      const etag = miss.headers.etag as string
      expect(etag).toBeDefined()
      advanceClock(STALE_MS)
      app.state.mode = 'status-503'
      const notModified = await get('/sie/5', { 'if-none-match': etag })
      expect([notModified.status, notModified.headers['x-cache'], notModified.body.length]).toEqual(
        [304, 'STALE', 0],
      )
      expect(notModified.statusMessage).toBe('Not Modified')
      expect(notModified.headers.etag).toBe(etag)
      expect(notModified.headers['cache-status']).toMatch(staleIfErrorStatus(503))
      // Another validator gets the full stale copy.
      const full = await get('/sie/5', { 'if-none-match': '"other"' })
      expect([full.status, full.headers['x-cache'], text(full)]).toEqual([
        200,
        'STALE',
        'item 5 v1',
      ])
      expect(app.state.calls.sie).toBe(3)
    })
  })

  describe('stale-while-revalidate', () => {
    test("If-None-Match with the stale copy's ETag: 304 STALE; the refresh still runs", async () => {
      const miss = await get('/swr/1')
      const etag = miss.headers.etag as string
      advanceClock(STALE_MS)
      const notModified = await get('/swr/1', { 'if-none-match': etag })
      expect([notModified.status, notModified.headers['x-cache'], notModified.body.length]).toEqual(
        [304, 'STALE', 0],
      )
      expect(notModified.headers['cache-status']).toMatch(SWR_STATUS)
      await until('the refresh to be stored', () => refreshes().stored === 1)
      const hit = await get('/swr/1', { 'if-none-match': etag })
      // The refreshed copy has new bytes, so the old validator no longer matches.
      expect([hit.status, hit.headers['x-cache'], text(hit)]).toEqual([200, 'HIT', 'swr 1 v2'])
      expect(hit.headers.etag).not.toBe(etag)
      expect(app.state.calls.swr).toBe(2)
    })

    test("per user: the refresh runs as that user, and another user's entry is untouched", async () => {
      const u1 = { authorization: 'Bearer u1' }
      const u2 = { authorization: 'Bearer u2' }
      expect(JSON.parse(text(await get('/mine', u1)))).toEqual({ user: 'u1', n: 1 })
      expect(JSON.parse(text(await get('/mine', u2)))).toEqual({ user: 'u2', n: 2 })
      advanceClock(STALE_MS)

      const stale1 = await get('/mine', u1)
      expect([stale1.headers['x-cache'], JSON.parse(text(stale1))]).toEqual([
        'STALE',
        { user: 'u1', n: 1 },
      ])
      await until("u1's refresh to be stored", () => refreshes().stored === 1)
      expect(app.state.seen).toEqual(['u1', 'u2', 'u1'])
      const hit1 = await get('/mine', u1)
      expect([hit1.headers['x-cache'], JSON.parse(text(hit1))]).toEqual([
        'HIT',
        { user: 'u1', n: 3 },
      ])
      expect(Number(hit1.headers.age)).toBeLessThanOrEqual(1)

      // u2 still has its own old copy, now refreshed as u2.
      const stale2 = await get('/mine', u2)
      expect([stale2.headers['x-cache'], JSON.parse(text(stale2))]).toEqual([
        'STALE',
        { user: 'u2', n: 2 },
      ])
      await until("u2's refresh to be stored", () => refreshes().stored === 2)
      expect(app.state.seen).toEqual(['u1', 'u2', 'u1', 'u2'])
      const hit2 = await get('/mine', u2)
      expect([hit2.headers['x-cache'], JSON.parse(text(hit2))]).toEqual([
        'HIT',
        { user: 'u2', n: 4 },
      ])
      expect(app.state.calls.mine).toBe(4)
    })

    test('a refresh the app refuses before the cache does not wedge the key', async () => {
      // Only the client's request carries TE: trailers; the internal refresh
      // request never does (hop-by-hop), so the gate answers it itself.
      const te = { te: 'trailers' }
      app.state.requireTe = true
      const miss = await get('/gated/1', te)
      expect([miss.headers['x-cache'], text(miss)]).toEqual(['MISS', 'gated 1 v1'])
      advanceClock(STALE_MS)

      const stale = await get('/gated/1', te)
      expect([stale.headers['x-cache'], text(stale)]).toEqual(['STALE', 'gated 1 v1'])
      await until('the refused refresh to end', () => refreshes().notStored === 1)
      expect(app.state.refused).toBe(1)

      // Within REVALIDATE_RETRY_MS no other refresh starts.
      const again = await get('/gated/1', te)
      expect(again.headers['x-cache']).toBe('STALE')
      expect(refreshes().started).toBe(1)

      // After it, another is attempted (refused again here).
      advanceClock(REVALIDATE_RETRY_MS + 100)
      expect((await get('/gated/1', te)).headers['x-cache']).toBe('STALE')
      await until('the second refused refresh to end', () => refreshes().notStored === 2)
      expect([refreshes().started, app.state.refused]).toEqual([2, 2])

      // Once the app lets it through, the next attempt refreshes the entry.
      app.state.requireTe = false
      advanceClock(REVALIDATE_RETRY_MS + 100)
      expect((await get('/gated/1', te)).headers['x-cache']).toBe('STALE')
      await until('the refresh to be stored', () => refreshes().stored === 1)
      const hit = await get('/gated/1', te)
      expect([hit.headers['x-cache'], text(hit)]).toEqual(['HIT', 'gated 1 v2'])
      expect(refreshes()).toMatchObject({ started: 3, notStored: 2, stored: 1 })
      expect(app.state.refused).toBe(2)
      expect(app.state.calls.gated).toBe(2)
    })
  })
})
