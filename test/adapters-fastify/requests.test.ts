import type { CacheRule } from '@cachet/fastify'
import { type Running, send, start } from './helpers'

// Which requests the Fastify plugin serves, stores, holds or stands aside
// from, over real HTTP, counting the origin's runs: write rules, per-user
// rules, the bypasses of the safe defaults, the route's view of a miss, and
// the handle (`app.cache`, `request.cache`).

const rules: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: 60, tags: ['item:{params.id}'] },
  { name: 'item-write', path: '/items/:id', methods: ['PUT'], invalidates: ['item:{params.id}'] },
  { name: 'me', path: '/me', ttl: 60, perUser: true, tags: ['user:{user}'] },
  { name: 'shared', path: '/shared/:id', ttl: 60 },
  { name: 'lang', path: '/lang', ttl: 60, key: { query: ['lang'] } },
]

let running: Running
let version = 1
let outer = 0

beforeAll(async () => {
  running = await start(
    rules,
    (app, count) => {
      app.get('/items/:id', async (request) => {
        count('item')
        return { id: (request.params as { id: string }).id, version }
      })
      app.put('/items/:id', async (request, reply) => {
        count('item-write')
        if ((request.body as { bad?: boolean } | undefined)?.bad) return reply.code(400).send({})
        version++
        return { updated: version }
      })
      app.post('/items/:id/bust', async (request) => {
        count('bust')
        await request.cache.invalidate({ tags: [`item:${(request.params as { id: string }).id}`] })
        return { busted: true }
      })
      app.get('/me', async (request) => ({
        user: (request as unknown as { user?: unknown }).user,
        run: count('me'),
      }))
      app.get('/shared/:id', async (request, reply) => {
        const run = count('shared')
        if ((request.params as { id: string }).id === 'cookie') reply.header('set-cookie', 's=1')
        return { run }
      })
      app.get('/lang', async (request) => {
        count('lang')
        return { query: request.query, url: request.url }
      })
    },
    (app) => {
      // The app's verified auth runs first (a stand-in: the id from a test header),
      // and a CORS-like hook sets a header on every response.
      app.decorateRequest('user', undefined)
      app.addHook('onRequest', (request, reply, done) => {
        const id = request.headers['x-test-user']
        if (typeof id === 'string') (request as unknown as { user?: unknown }).user = { id }
        reply.header('x-outer', String(++outer))
        done()
      })
    },
  )
})

afterAll(() => running.close())

describe('write rules', () => {
  test('a 2xx write is answered once its invalidation is done: the next read is fresh', async () => {
    const events: string[] = []
    const onInvalidate = () => events.push('invalidated')
    running.app.cache.on('invalidate', onInvalidate)
    try {
      expect((await running.get('/items/1')).xCache).toBe('MISS')
      expect((await running.get('/items/1')).xCache).toBe('HIT')
      const put = await running.get('/items/1', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      events.push('answered')
      expect([put.status, put.xCache]).toEqual([200, null])
      expect(events).toEqual(['invalidated', 'answered'])
      const after = await running.get('/items/1')
      expect([after.xCache, (after.json() as { version: number }).version]).toEqual([
        'MISS',
        version,
      ])
      expect([running.count('item'), running.count('item-write')]).toEqual([2, 1])
    } finally {
      running.app.cache.off('invalidate', onInvalidate)
    }
  })

  test('a write answered 4xx invalidates nothing', async () => {
    await running.get('/items/2')
    const before = running.count('item')
    const put = await running.get('/items/2', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"bad":true}',
    })
    expect(put.status).toBe(400)
    expect((await running.get('/items/2')).xCache).toBe('HIT')
    expect(running.count('item')).toBe(before)
  })

  test('request.cache.invalidate() in a handler and app.cache.invalidate() drop the tagged entries', async () => {
    await running.get('/items/3')
    expect((await running.get('/items/3')).xCache).toBe('HIT')
    const bust = await running.get('/items/3/bust', { method: 'POST' })
    expect(bust.json()).toEqual({ busted: true })
    expect((await running.get('/items/3')).xCache).toBe('MISS')
    await running.app.cache.invalidate({ tags: ['item:3'] })
    expect((await running.get('/items/3')).xCache).toBe('MISS')
    expect((await running.get('/items/3')).xCache).toBe('HIT')
    expect(running.count('bust')).toBe(1)
  })
})

describe('per-user rules', () => {
  test('each user has their own entry; anonymous requests bypass', async () => {
    const u1 = { headers: { 'x-test-user': 'u1' } }
    const u2 = { headers: { 'x-test-user': 'u2' } }
    const a = await running.get('/me', u1)
    const b = await running.get('/me', u2)
    expect([a.xCache, b.xCache]).toEqual(['MISS', 'MISS'])
    const a2 = await running.get('/me', u1)
    const b2 = await running.get('/me', u2)
    expect([a2.xCache, a2.json()]).toEqual(['HIT', { user: { id: 'u1' }, run: 1 }])
    expect([b2.xCache, b2.json()]).toEqual(['HIT', { user: { id: 'u2' }, run: 2 }])
    const anonymous = await running.get('/me')
    expect(anonymous.xCache).toBe('BYPASS')
    expect(anonymous.headers.get('cache-status')).toMatch(/detail=no-user/)
    await running.app.cache.invalidate({ user: 'u1' })
    expect((await running.get('/me', u1)).xCache).toBe('MISS')
    expect((await running.get('/me', u2)).xCache).toBe('HIT')
    expect(running.count('me')).toBe(4)
  })
})

describe('bypass', () => {
  test.each([
    ['Authorization', { authorization: 'Bearer x' }],
    ['Cookie', { cookie: 'a=1' }],
    ['Cache-Control: no-store', { 'cache-control': 'no-store' }],
  ])(
    'a request with %s is neither served from nor stored in the shared cache',
    async (_, headers) => {
      const id = `bypass-${Object.keys(headers)[0]}`
      const before = running.count('shared')
      await running.get(`/shared/${id}`)
      for (let i = 0; i < 2; i++) {
        const reply = await running.get(`/shared/${id}`, { headers })
        expect(reply.xCache).toBe('BYPASS')
      }
      expect(running.count('shared')).toBe(before + 3)
    },
  )

  test('a response with Set-Cookie is never stored', async () => {
    const before = running.count('shared')
    for (let i = 0; i < 2; i++) {
      const reply = await running.get('/shared/cookie')
      expect([reply.xCache, reply.headers.get('set-cookie')]).toEqual(['BYPASS', 's=1'])
    }
    expect(running.count('shared')).toBe(before + 2)
  })

  test('a method no rule names is not the cache’s: no X-Cache', async () => {
    const reply = await running.get('/items/9/bust', { method: 'POST' })
    expect([reply.status, reply.xCache]).toEqual([200, null])
  })
})

describe('the route’s view of a miss', () => {
  test('only the keyed query parameters, in request.query and request.url', async () => {
    const miss = await running.get('/lang?utm=1&lang=fr')
    expect([miss.xCache, miss.json()]).toEqual([
      'MISS',
      { query: { lang: 'fr' }, url: '/lang?lang=fr' },
    ])
    const hit = await running.get('/lang?lang=fr&utm=2')
    expect([hit.xCache, hit.body.equals(miss.body)]).toEqual(['HIT', true])
    const none = await running.get('/lang?utm=3')
    expect([none.xCache, none.json()]).toEqual(['MISS', { query: {}, url: '/lang' }])
    expect(running.count('lang')).toBe(2)
  })

  test('headers set by hooks before the cache go out on every response, never from the entry', async () => {
    const miss = await running.get('/shared/outer')
    const hit = await running.get('/shared/outer')
    expect([miss.xCache, hit.xCache]).toEqual(['MISS', 'HIT'])
    expect(Number(hit.headers.get('x-outer'))).toBe(Number(miss.headers.get('x-outer')) + 1)
  })
})

describe('the handle', () => {
  test('stats() counts hits; explain() names the rule', async () => {
    const hits = () => running.app.cache.stats().rules.find((r) => r.name === 'shared')?.hits.memory
    const before = hits() as number
    await running.get('/shared/stats')
    await running.get('/shared/stats')
    expect(hits()).toBe(before + 1)
    expect(running.app.cache.explain({ method: 'GET', url: '/shared/1' }).rule?.name).toBe('shared')
  })

  test('warm() fetches through the app before any client asked', async () => {
    const before = running.count('item')
    const summary = await running.app.cache.warm(['/items/warm'])
    expect(summary).toMatchObject({ total: 1, ok: 1, misses: 1, failed: 0 })
    const reply = await send(`${running.url}/items/warm`)
    expect(reply.xCache).toBe('HIT')
    expect(running.count('item')).toBe(before + 1)
  })
})
