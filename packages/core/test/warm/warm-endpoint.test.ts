import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { withHandle } from '../../src/adapter'
import { createAdmin } from '../../src/admin/handler'
import { CacheEngine } from '../../src/engine/engine'
import { internalExchange, isInternalRequest } from '../../src/engine/internal-request'
import { topEndpoint, warmEndpoint } from '../../src/warm/warm-endpoint'

const TOKEN = 'a-token-of-24-characters'

/** A minimal app: GET /items/:id answers with X-Cache as a cache would, counting its runs. */
function app(): { listener: RequestListener; seen: Array<{ url: string; internal: boolean }> } {
  const seen: Array<{ url: string; internal: boolean }> = []
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ url: req.url ?? '', internal: isInternalRequest(req) })
    if (req.url?.startsWith('/items/')) {
      res.setHeader('x-cache', 'MISS')
      res.end('item')
    } else {
      res.statusCode = 404
      res.end()
    }
  }
  return { listener, seen }
}

describe('internalExchange', () => {
  test('a plain internal request is not a refresh, and the response head is read back', async () => {
    const { listener, seen } = app()
    const r = await internalExchange(
      listener,
      {
        url: '/items/1?x=1',
        headers: { 'accept-language': 'fr', 'if-none-match': '"e"' },
        mode: 'plain',
      },
      5000,
    )
    expect(r.status).toBe(200)
    expect(r.headers['x-cache']).toBe('MISS')
    expect(seen).toEqual([{ url: '/items/1?x=1', internal: false }])
  })

  test('writeHead headers and repeated headers are read back too', async () => {
    const listener: RequestListener = (_req, res) => {
      res.writeHead(203, [
        ['X-Cache', 'HIT'],
        ['Vary', 'a'],
        ['Vary', 'b'],
      ] as unknown as string[])
      res.end('x'.repeat(100_000))
    }
    const r = await internalExchange(listener, { url: '/', mode: 'plain' }, 5000)
    expect(r).toEqual({
      status: 203,
      headers: expect.objectContaining({ 'x-cache': 'HIT', vary: 'a, b' }),
    })
  })
})

describe('warm endpoints (POST /warm, GET /top)', () => {
  const rules = [
    { name: 'item', path: '/items/:id', ttl: 60 },
    { name: 'mine', path: '/mine', ttl: 60, perUser: true },
  ]

  test.each([
    [[], 'body'],
    ['x', 'body'],
    [{ urls: 'x' }, 'urls'],
    [{ urls: ['/items/1'], concurrency: 0 }, 'concurrency'],
    [{ urls: ['/items/1'], concurrency: 65 }, 'concurrency'],
    [{ urls: ['/items/1'], extra: 1 }, 'extra'],
    [{ top: 0 }, 'top'],
    [{}, 'urls'],
    [{ urls: [1] }, 'urls'],
  ])('%o is a 400 naming %s', async (body, field) => {
    const engine = new CacheEngine({ rules })
    const answer = await warmEndpoint(engine, body)
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ field })
  })

  test('503 while the app is not known; 200 with the summary once it is', async () => {
    const { listener, seen } = app()
    let known: RequestListener | undefined
    const handle = withHandle({}, new CacheEngine({ rules }), () => known)
    expect(await warmEndpoint(handle.engine, { urls: ['/items/1'] })).toMatchObject({
      status: 503,
      body: { ok: false, error: expect.stringContaining('listener') },
    })
    known = listener
    const answer = await warmEndpoint(handle.engine, {
      urls: ['/items/1', '/mine'],
      concurrency: 2,
    })
    expect(answer).toEqual({
      status: 200,
      body: {
        total: 1,
        ok: 1,
        failed: 0,
        skipped: 1,
        hits: 0,
        misses: 1,
        ms: expect.any(Number),
        problems: [{ url: '/mine', reason: 'rule mine is per-user' }],
      },
    })
    expect(seen).toEqual([{ url: '/items/1', internal: false }])
    await handle.close()
  })

  test('GET /top lists the tracked URLs; n is checked', () => {
    const engine = new CacheEngine({ rules, warm: { track: 5 } })
    const m = engine.match('GET', '/items/3')
    engine.lookup(m as never, {
      method: 'GET',
      path: '/items/3',
      rawQuery: '',
      headers: {},
      user: undefined,
    })
    expect(topEndpoint(engine, new URLSearchParams('n=5'))).toEqual({
      status: 200,
      body: { urls: [{ url: '/items/3', rule: 'item', count: 1 }] },
    })
    expect(topEndpoint(engine, new URLSearchParams('n=0')).status).toBe(400)
    expect(topEndpoint(engine, new URLSearchParams('n=abc')).status).toBe(400)
  })

  test('mounted in the admin API, behind its token', async () => {
    const { listener } = app()
    const handle = withHandle({}, new CacheEngine({ rules }), () => listener)
    const admin = createAdmin(handle, { tokens: TOKEN })
    const post = (authorization: string | undefined, body: unknown) =>
      admin.handle({ method: 'POST', url: '/warm', authorization, body: async () => body })
    expect((await post(undefined, { urls: ['/items/1'] })).status).toBe(401)
    const ok = await post(`Bearer ${TOKEN}`, { urls: ['/items/1'] })
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.body)).toMatchObject({ total: 1, ok: 1, misses: 1 })
    const top = await admin.handle({
      method: 'GET',
      url: '/top?n=3',
      authorization: `Bearer ${TOKEN}`,
      body: async () => undefined,
    })
    expect(top.status).toBe(200)
    expect(JSON.parse(top.body)).toEqual({ urls: [] })
    await handle.close()
  })
})
