import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheOptions, CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { sharedRedisUrl } from '../support/redis/shared'
import { send } from '../support/shops'
import { type Respond, type SmallApp, smallApps } from '../support/small-apps'

// `originTimeout` (stale-if-slow) on the three adapters, over real HTTP, in
// memory and on a real Redis: a route slower than `soft` is answered for
// with the stale-if-error copy while it runs on, and what it answers is
// stored; requests waiting on the same fill (in this process or another)
// get the copy too; without a copy the client waits for the route, or gets
// the rule's `hardStatus` past `hard`. Every test counts the route's runs.

/** Past this, a copy with TTL_MS is stale (inside its staleIfError window). */
const TTL_MS = 300
const SOFT_MS = 100

const rules: CacheRule[] = [
  {
    path: '/slow/:id',
    ttl: `${TTL_MS}ms`,
    staleIfError: '1m',
    originTimeout: { soft: `${SOFT_MS}ms` },
  },
  { path: '/hard/:id', ttl: '1m', originTimeout: { hard: '300ms', hardStatus: 504 } },
  { path: '/plain/:id', ttl: `${TTL_MS}ms`, staleIfError: '1m' },
]

/** What the route does next: how long it takes, the status it answers, whether it streams. */
interface Origin {
  delayMs: number
  status: number
  stream?: boolean
}

const slowly =
  (origin: Origin): Respond =>
  async ({ path }, count) => {
    const n = count(path)
    await sleep(origin.delayMs)
    return { body: `${path} v${n}`, status: origin.status, stream: origin.stream === true }
  }

const running: SmallApp[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()))
})

async function get(url: string, path: string) {
  const started = performance.now()
  const r = await send(url, { method: 'GET', path })
  return {
    status: r.status,
    xCache: r.headers['x-cache'],
    cacheStatus: r.headers['cache-status'],
    outer: r.headers['x-outer'],
    body: r.body.toString('utf8'),
    ms: performance.now() - started,
  }
}

/** Polls `done` (real time, bounded) for work that goes on after the client's answer. */
async function until(what: string, done: () => boolean, limitMs = 5_000): Promise<void> {
  const deadline = performance.now() + limitMs
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

describe.each(smallApps)('%s', (_, build) => {
  const start = async (options: CacheOptions = { rules }, origin?: Origin) => {
    const o = origin ?? { delayMs: 0, status: 200 }
    const app = await build(options, false, slowly(o))
    running.push(app)
    return { app, origin: o }
  }

  /** An app whose copy of `path` (its route's first answer) is stale, inside its staleIfError window. */
  const withStale = async (path: string) => {
    const started = await start()
    expect((await get(started.app.url, path)).body).toBe(`${path} v1`)
    await sleep(TTL_MS + 50)
    return started
  }

  test('a route slower than soft is answered with the stale copy; what it answers is stored', async () => {
    const { app, origin } = await withStale('/slow/1')
    origin.delayMs = 800
    const r = await get(app.url, '/slow/1')
    expect([r.status, r.xCache, r.body]).toEqual([200, 'STALE', '/slow/1 v1'])
    expect(r.cacheStatus).toMatch(/^cachet; fwd=stale; ttl=-\d+; detail=origin-timeout$/)
    expect(r.ms).toBeLessThan(700)
    // The layers before the cache are in the answer, as on a hit.
    expect(r.outer).toBe('1')
    expect(app.calls.get('/slow/1')).toBe(2)
    // The route ran on; its answer is stored when it ends.
    await until('the slow answer stored', () => app.cache.stats().rules[0]?.stores.memory === 2)
    origin.delayMs = 0
    const after = await get(app.url, '/slow/1')
    expect([after.xCache, after.body]).toEqual(['HIT', '/slow/1 v2'])
    expect(app.calls.get('/slow/1')).toBe(2)
    expect(app.cache.stats().stale).toEqual({ revalidate: 0, error: 0, timeout: 1 })
  })

  test('requests waiting on the slow fill get the stale copy too: one route run', async () => {
    const { app, origin } = await withStale('/slow/2')
    origin.delayMs = 800
    const answers = await Promise.all(Array.from({ length: 12 }, () => get(app.url, '/slow/2')))
    for (const r of answers) {
      expect([r.xCache, r.body]).toEqual(['STALE', '/slow/2 v1'])
      expect(r.cacheStatus).toMatch(/detail=origin-timeout$/)
      expect(r.ms).toBeLessThan(700)
    }
    expect(app.calls.get('/slow/2')).toBe(2)
    await until('the slow answer stored', () => app.cache.stats().rules[0]?.stores.memory === 2)
    expect((await get(app.url, '/slow/2')).body).toBe('/slow/2 v2')
    expect(app.calls.get('/slow/2')).toBe(2)
    expect(app.cache.stats().stale.timeout).toBe(12)
  })

  test('on a kept-alive connection, the next request is answered while the slow route runs on', async () => {
    const { app, origin } = await start()
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const once = (path: string, method = 'GET') =>
      new Promise<{ status: number; xCache: unknown; body: string; socket: unknown }>(
        (resolve, reject) => {
          const req = http.request(`${app.url}${path}`, { agent, method }, (res) => {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                xCache: res.headers['x-cache'],
                body: Buffer.concat(chunks).toString('utf8'),
                socket: req.socket,
              }),
            )
          })
          req.on('error', reject)
          req.end()
        },
      )
    try {
      await once('/slow/7')
      await once('/slow/8')
      await sleep(TTL_MS + 50)
      origin.delayMs = 600
      const slow = await once('/slow/7')
      const head = await once('/slow/8', 'HEAD')
      const next = await once('/plain/9')
      expect([slow.xCache, slow.body]).toEqual(['STALE', '/slow/7 v1'])
      expect([head.status, head.xCache, head.body]).toEqual([200, 'STALE', ''])
      expect([next.status, next.body]).toEqual([200, '/plain/9 v1'])
      // One connection throughout.
      expect(head.socket).toBe(slow.socket)
      expect(next.socket).toBe(slow.socket)
      await until('both slow answers stored', () => app.cache.stats().rules[0]?.stores.memory === 4)
      origin.delayMs = 0
      expect((await once('/slow/7')).body).toBe('/slow/7 v2')
      expect((await once('/slow/8')).body).toBe('/slow/8 v2')
      expect([
        app.calls.get('/slow/7'),
        app.calls.get('/slow/8'),
        app.calls.get('/plain/9'),
      ]).toEqual([2, 2, 1])
    } finally {
      agent.destroy()
    }
  })

  test('a slow route that streams its answer after the copy went out is stored', async () => {
    const { app, origin } = await withStale('/slow/10')
    Object.assign(origin, { delayMs: 300, stream: true })
    expect((await get(app.url, '/slow/10')).xCache).toBe('STALE')
    await until('the streamed answer stored', () => app.cache.stats().rules[0]?.stores.memory === 2)
    Object.assign(origin, { delayMs: 0, stream: false })
    expect(await get(app.url, '/slow/10')).toMatchObject({ xCache: 'HIT', body: '/slow/10 v2' })
    expect(app.calls.get('/slow/10')).toBe(2)
  })

  test('a route that answers within soft is a plain miss', async () => {
    const { app, origin } = await withStale('/slow/3')
    origin.delayMs = 10
    const r = await get(app.url, '/slow/3')
    expect([r.xCache, r.body]).toEqual(['MISS', '/slow/3 v2'])
    expect(app.calls.get('/slow/3')).toBe(2)
    expect(app.cache.stats().stale.timeout).toBe(0)
  })

  test('a slow route that then fails is not stored; the stale copy stays for the next request', async () => {
    const { app, origin } = await withStale('/slow/4')
    Object.assign(origin, { delayMs: 400, status: 500 })
    const slow = await get(app.url, '/slow/4')
    expect([slow.xCache, slow.body]).toEqual(['STALE', '/slow/4 v1'])
    expect(slow.cacheStatus).toMatch(/detail=origin-timeout$/)
    expect(slow.ms).toBeLessThan(350)
    await until('the failed fill ended', () => app.calls.get('/slow/4') === 2)
    await sleep(450)
    Object.assign(origin, { delayMs: 0, status: 500 })
    // The 500 was not stored: the next request goes to the route, which fails at once
    // this time: the stale-if-error copy answers.
    const r = await get(app.url, '/slow/4')
    expect([r.xCache, r.body]).toEqual(['STALE', '/slow/4 v1'])
    expect(r.cacheStatus).toMatch(/detail=stale-if-error$/)
    expect(app.calls.get('/slow/4')).toBe(3)
  })

  test('without a stale copy the client waits for the route', async () => {
    const { app, origin } = await start()
    origin.delayMs = 300
    const r = await get(app.url, '/slow/5')
    expect([r.status, r.xCache, r.body]).toEqual([200, 'MISS', '/slow/5 v1'])
    expect(r.ms).toBeGreaterThanOrEqual(290)
    expect(app.calls.get('/slow/5')).toBe(1)
  })

  test('past hard without a copy: the rule’s hardStatus, and the route’s answer is stored', async () => {
    const { app, origin } = await start()
    origin.delayMs = 900
    const [first, waiter] = await Promise.all([
      get(app.url, '/hard/1'),
      sleep(20).then(() => get(app.url, '/hard/1')),
    ])
    for (const r of [first, waiter]) {
      expect([r.status, r.xCache]).toEqual([504, 'MISS'])
      expect(r.cacheStatus).toBe('cachet; fwd=miss; detail=origin-timeout')
      expect(r.ms).toBeLessThan(800)
    }
    expect(app.calls.get('/hard/1')).toBe(1)
    // A layer before the cache saw the statuses the clients got.
    expect(app.finished).toEqual([504, 504])
    await until('the slow answer stored', () => app.cache.stats().rules[1]?.stores.memory === 1)
    const after = await get(app.url, '/hard/1')
    expect([after.status, after.xCache, after.body]).toEqual([200, 'HIT', '/hard/1 v1'])
    expect(app.calls.get('/hard/1')).toBe(1)
  })

  test('a rule without originTimeout waits for a slow route', async () => {
    const { app, origin } = await withStale('/plain/1')
    origin.delayMs = 300
    const r = await get(app.url, '/plain/1')
    expect([r.xCache, r.body]).toEqual(['MISS', '/plain/1 v2'])
    expect(app.calls.get('/plain/1')).toBe(2)
  })

  test('on a shared Redis, a process whose key another process is filling slowly serves its stale copy', async () => {
    const prefix = `slow-${randomBytes(4).toString('hex')}`
    const shared = (): CacheOptions => ({
      rules,
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix }) },
    })
    const a = await start(shared())
    const b = await start(shared())
    await Promise.all([a.app.cache.ready, b.app.cache.ready])
    expect((await get(a.app.url, '/slow/6')).body).toBe('/slow/6 v1')
    await sleep(TTL_MS + 50)
    a.origin.delayMs = 900
    const onA = get(a.app.url, '/slow/6')
    await sleep(30)
    const onB = await get(b.app.url, '/slow/6')
    expect([onB.xCache, onB.body]).toEqual(['STALE', '/slow/6 v1'])
    expect(onB.cacheStatus).toMatch(/detail=origin-timeout$/)
    expect(onB.ms).toBeLessThan(700)
    expect((await onA).xCache).toBe('STALE')
    // One run in the cluster: B waited on A's fill lock, then served its copy.
    expect(a.app.calls.get('/slow/6')).toBe(2)
    expect(b.app.calls.size).toBe(0)
    await until('the slow answer stored', () => a.app.cache.stats().rules[0]?.stores.shared === 2)
    const after = await get(b.app.url, '/slow/6')
    expect([after.xCache, after.body]).toEqual(['HIT', '/slow/6 v2'])
    expect(b.app.calls.size).toBe(0)
  })
})

describe.each(smallApps)('%s on a shared Redis', (_, build) => {
  test('an invalidation while a process waits behind another’s fill lock: the invalidated copy is not served', async () => {
    const prefix = `slow-inv-${randomBytes(4).toString('hex')}`
    const tagged: CacheRule[] = [{ ...(rules[0] as CacheRule), tags: ['t:{params.id}'] }]
    const origin: Origin = { delayMs: 0, status: 200 }
    const open = async () => {
      const app = await build(
        { rules: tagged, store: { l2: redisTier({ client: sharedRedisUrl(), prefix }) } },
        false,
        slowly(origin),
      )
      running.push(app)
      return app
    }
    const [a, b] = [await open(), await open()]
    await Promise.all([a.cache.ready, b.cache.ready])
    await get(a.url, '/slow/20')
    await sleep(TTL_MS + 50)
    origin.delayMs = 600
    const onA = get(a.url, '/slow/20')
    await sleep(30)
    const onB = get(b.url, '/slow/20')
    await sleep(40)
    await b.cache.invalidate({ tags: ['t:20'] })
    const [ra, rb] = await Promise.all([onA, onB])
    // Neither process sends the copy the invalidation removed: both wait for a route.
    expect([ra.xCache, ra.body]).toEqual(['MISS', '/slow/20 v2'])
    expect([rb.xCache, rb.body]).toEqual(['MISS', '/slow/20 v1'])
    expect([a.calls.get('/slow/20'), b.calls.get('/slow/20')]).toEqual([2, 1])
  })
})

describe.each([
  ['Express 5', require('express') as typeof import('express')],
  ['Express 4', require('express4') as typeof import('express')],
])('%s', (_, express) => {
  const listen = async (app: http.RequestListener, close: () => Promise<void>) => {
    const server = http.createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    running.push({
      url: '',
      cache: undefined as never,
      calls: new Map(),
      finished: [],
      async close() {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        await close()
      },
    })
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  test('a route that fails after writing into the shadow: the kept-alive connection lives, nothing is stored', async () => {
    const cache = expressCache({ rules })
    const app = express()
    app.use(cache)
    let runs = 0
    let failing = false
    app.get('/slow/:id', async (_req, res, next) => {
      runs++
      if (!failing) return void res.type('text/plain').send(`v${runs}`)
      await sleep(150)
      res.type('text/plain').write('partial ')
      await sleep(150)
      next(new Error('boom after the first chunk'))
    })
    app.get('/plain/:id', async (_req, res) => {
      await sleep(400)
      res.send('plain')
    })
    const url = await listen(app, () => cache.close())
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const once = (path: string) =>
      new Promise<{ status: number; xCache: unknown; body: string }>((resolve, reject) => {
        const req = http.request(`${url}${path}`, { agent }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              xCache: res.headers['x-cache'],
              body: Buffer.concat(chunks).toString(),
            }),
          )
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end()
      })
    try {
      await once('/slow/1')
      await sleep(TTL_MS + 50)
      failing = true
      expect(await once('/slow/1')).toMatchObject({ status: 200, xCache: 'STALE', body: 'v1' })
      // On the same connection, in flight when the route fails.
      expect(await once('/plain/1')).toMatchObject({ status: 200, body: 'plain' })
      failing = false
      expect(await once('/slow/1')).toMatchObject({ xCache: 'MISS', body: 'v3' })
      expect(runs).toBe(3)
    } finally {
      agent.destroy()
    }
  })

  test("ttl: 'origin': a slow 304 to the cache's conditional request still refreshes the copy", async () => {
    const cache = expressCache([
      { path: '/o/:id', ttl: 'origin', originTimeout: { soft: '100ms' } },
    ])
    const app = express()
    app.use(cache)
    const asked: (string | undefined)[] = []
    let delayMs = 0
    app.get('/o/:id', async (req, res) => {
      asked.push(req.headers['if-none-match'] as string | undefined)
      await sleep(delayMs)
      res.setHeader('cache-control', 'max-age=1, stale-if-error=60')
      res.setHeader('etag', '"v1"')
      if (req.headers['if-none-match'] === '"v1"') return void res.status(304).end()
      res.type('text/plain').send('body v1')
    })
    const url = await listen(app, () => cache.close())
    expect((await get(url, '/o/1')).body).toBe('body v1')
    await sleep(1100)
    delayMs = 300
    expect(await get(url, '/o/1')).toMatchObject({ xCache: 'STALE', body: 'body v1' })
    await sleep(400)
    delayMs = 0
    expect(await get(url, '/o/1')).toMatchObject({ xCache: 'HIT', body: 'body v1' })
    expect(asked).toEqual([undefined, '"v1"'])
  })
})

describe('originTimeout at start-up', () => {
  const refused = (rule: Partial<CacheRule>, message: string) =>
    expect(() => expressCache([{ path: '/x', ttl: 5, ...rule } as CacheRule])).toThrow(message)

  test('a typo, a bad duration, soft after hard and a status other than 503/504 are refused', () => {
    refused(
      { staleIfError: 60, originTimeout: { sfot: '100ms' } as never },
      'rules[0] (/x): unknown option "originTimeout.sfot" (did you mean "originTimeout.soft"?)',
    )
    refused(
      { staleIfError: 60, originTimeout: { soft: 'fast' as never } },
      `option "originTimeout.soft": expected seconds (a number) or a duration string like '60s', '5m', '500ms', got "fast"`,
    )
    refused(
      { staleIfError: 60, originTimeout: { soft: 2, hard: 1 } },
      'option "originTimeout.soft": expected less than hard (1), got 2',
    )
    refused(
      { originTimeout: { hard: 1, hardStatus: 500 as never } },
      'option "originTimeout.hardStatus": expected 503 or 504, got 500',
    )
    refused(
      { staleIfError: 60, originTimeout: {} },
      'option "originTimeout": expected soft, hard or both',
    )
  })

  test('soft without a stale window to serve from is refused', () => {
    refused(
      { originTimeout: { soft: '100ms' } },
      'option "originTimeout": soft needs staleIfError: a slow route is answered with a stale copy kept inside that window',
    )
  })
})
