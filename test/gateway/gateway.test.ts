import { spawnSync } from 'node:child_process'
import http, { type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createGateway, type Gateway } from '@cachet/express-gateway'
import { shopEntry, startShopProcess } from '../support/processes'
import { type RawReply, rawRequest } from '../support/raw-http'
import { sharedRedisUrl } from '../support/redis/shared'

// examples/express-gateway in front of a small upstream started here: one
// origin-driven rule makes the forwarding app a shared HTTP cache. Every case
// counts the upstream's calls.

/** `/etag/*`: the representation's version, the Age the upstream reports, and whether its 304s name another tag. */
interface Validated {
  version: number
  age: number
  lie?: boolean
}

interface Upstream {
  url: string
  validated: Map<string, Validated>
  calls: Map<string, number>
  seen: Map<string, { method: string; headers: IncomingHttpHeaders; body: string }>
  close(): Promise<void>
}

function count(u: Upstream, key: string): number {
  return u.calls.get(key) ?? 0
}

async function startUpstream(): Promise<Upstream> {
  const calls = new Map<string, number>()
  const validated = new Map<string, Validated>()
  const seen = new Map<string, { method: string; headers: IncomingHttpHeaders; body: string }>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://upstream')
      const key = `${req.method} ${url.pathname}`
      const n = (calls.get(key) ?? 0) + 1
      calls.set(key, n)
      const body = Buffer.concat(chunks).toString()
      seen.set(key, { method: req.method ?? '', headers: req.headers, body })
      const json = (status: number, headers: Record<string, string | string[]>, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers })
        res.end(JSON.stringify(data))
      }
      const [, section] = url.pathname.split('/')
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const location = url.searchParams.get('location')
        const headers: Record<string, string> = location === null ? {} : { location }
        json(Number(url.searchParams.get('status') ?? 201), headers, { method: req.method, body })
        return
      }
      switch (section) {
        case 'fresh':
          return json(200, { 'cache-control': 'max-age=60' }, { path: url.pathname, n })
        case 'age':
          return json(
            200,
            // An origin Date 5 s old: stored, and sent again on hits (RFC 9110 §6.6.1).
            {
              'cache-control': 'max-age=60',
              age: '50',
              date: new Date(Date.now() - 5000).toUTCString(),
            },
            { n },
          )
        case 'nostore':
          return json(200, { 'cache-control': 'no-store' }, { n })
        case 'none':
          return json(200, {}, { n })
        case 'etag': {
          const v = validated.get(url.pathname) ?? { version: 1, age: 0 }
          const tag = `"v${v.version}"`
          const headers = { 'cache-control': 'max-age=60', age: String(v.age), etag: tag }
          const asked = req.headers['if-none-match']
          if (asked === tag || (v.lie === true && asked !== undefined)) {
            calls.set(`304 ${url.pathname}`, (calls.get(`304 ${url.pathname}`) ?? 0) + 1)
            res.writeHead(304, {
              ...headers,
              etag: v.lie ? '"other"' : tag,
              'x-upstream': `304 #${n}`,
            })
            res.end()
            return
          }
          return json(200, { ...headers, 'x-upstream': `200 #${n}` }, { version: v.version, n })
        }
        case 'private':
          return json(200, { 'cache-control': 'private, max-age=60' }, { n })
        case 'cookie':
          return json(200, { 'cache-control': 'max-age=60', 'set-cookie': [`sid=${n}`] }, { n })
        case 'vary':
          return json(200, { 'cache-control': 'max-age=60', vary: '*' }, { n })
        case 'negotiate':
          return json(
            200,
            { 'cache-control': 'max-age=60', vary: 'Accept-Encoding' },
            { encoding: req.headers['accept-encoding'] ?? null, n },
          )
        case 'missing':
          return json(404, { 'cache-control': 'max-age=60' }, { error: 'not found', n })
        case 'echo':
          return json(200, { 'cache-control': 'max-age=60' }, { headers: req.headers, n })
        case 'slow':
          setTimeout(() => json(200, { 'cache-control': 'max-age=60' }, { n }), 150)
          return
        case 'big': {
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'cache-control': 'max-age=60',
          })
          for (let i = 0; i < 32; i++) res.write(Buffer.alloc(64 * 1024, i))
          res.end()
          return
        }
        default:
          return json(200, { 'cache-control': 'max-age=60' }, { root: true, n })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    validated,
    calls,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

type Reply = RawReply

function send(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return rawRequest(base, path, options)
}

const json = (r: Reply) => JSON.parse(r.body.toString()) as Record<string, unknown>

describe('examples/express-gateway in front of an upstream', () => {
  let upstream: Upstream
  let gateway: Gateway
  let server: http.Server
  let base: string

  beforeAll(async () => {
    upstream = await startUpstream()
    gateway = createGateway({ originUrl: upstream.url })
    await gateway.cache.ready
    server = http.createServer(gateway.handler)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await gateway.close()
    await upstream.close()
  })

  test('max-age=60: MISS then HIT; the query is part of the key; the root path too', async () => {
    const miss = await send(base, '/fresh/1')
    const hit = await send(base, '/fresh/1')
    const other = await send(base, '/fresh/1?page=2')
    expect([miss.headers['x-cache'], hit.headers['x-cache'], other.headers['x-cache']]).toEqual([
      'MISS',
      'HIT',
      'MISS',
    ])
    expect(hit.body.equals(miss.body)).toBe(true)
    expect(hit.headers['cache-status']).toMatch(/^cachet; hit; ttl=(60|59)$/)
    expect(count(upstream, 'GET /fresh/1')).toBe(2)
    await send(base, '/')
    expect((await send(base, '/')).headers['x-cache']).toBe('HIT')
    expect(count(upstream, 'GET /')).toBe(1)
  })

  test('the upstream Age counts: a hit says Age ≥ 50 and has at most 10 s left; its Date is the origin’s', async () => {
    const miss = await send(base, '/age/1')
    const hit = await send(base, '/age/1')
    expect(hit.headers.date).toBe(miss.headers.date)
    expect(Date.parse(String(hit.headers.date))).toBeLessThan(Date.now() - 4000)
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(50)
    expect(hit.headers['cache-status']).toMatch(/^cachet; hit; ttl=(10|9|8)$/)
    expect(count(upstream, 'GET /age/1')).toBe(1)
  })

  test.each([
    ['/nostore/1', 'no-store'],
    ['/none/1', 'no-lifetime'],
    ['/private/1', 'private'],
    ['/cookie/1', 'set-cookie'],
    ['/vary/1', 'vary'],
  ])('%s is passed through and never stored (%s)', async (path, detail) => {
    const before = count(upstream, `GET ${path}`)
    for (let i = 0; i < 2; i++) {
      const r = await send(base, path)
      expect(r.status).toBe(200)
      expect(r.headers['x-cache']).toBe('BYPASS')
      expect(r.headers['cache-status']).toBe(`cachet; fwd=miss; detail=${detail}`)
    }
    expect(count(upstream, `GET ${path}`) - before).toBe(2)
  })

  test('Set-Cookie reaches the client that caused it, and only that one', async () => {
    const a = await send(base, '/cookie/2')
    const b = await send(base, '/cookie/2')
    expect(a.headers['set-cookie']).toEqual(['sid=1'])
    expect(b.headers['set-cookie']).toEqual(['sid=2'])
  })

  test('a 404 with max-age is stored (heuristically cacheable status)', async () => {
    const miss = await send(base, '/missing/1')
    const hit = await send(base, '/missing/1')
    expect([miss.status, hit.status, hit.headers['x-cache']]).toEqual([404, 404, 'HIT'])
    expect(count(upstream, 'GET /missing/1')).toBe(1)
  })

  test('any method, its headers and body go upstream; a 2xx write invalidates the path first', async () => {
    await send(base, '/fresh/3')
    expect((await send(base, '/fresh/3')).headers['x-cache']).toBe('HIT')
    const put = await send(base, '/fresh/3?status=500', {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'x-client': 'c1' },
      body: 'new price',
    })
    expect(put.status).toBe(500)
    expect(upstream.seen.get('PUT /fresh/3')).toMatchObject({ method: 'PUT', body: 'new price' })
    expect(upstream.seen.get('PUT /fresh/3')?.headers['x-client']).toBe('c1')
    // A failed write invalidates nothing.
    expect((await send(base, '/fresh/3')).headers['x-cache']).toBe('HIT')
    const post = await send(base, '/fresh/3', { method: 'POST', body: 'x' })
    expect(post.status).toBe(201)
    expect(json(post)).toEqual({ method: 'POST', body: 'x' })
    const after = await send(base, '/fresh/3')
    expect(after.headers['x-cache']).toBe('MISS')
    expect(count(upstream, 'GET /fresh/3')).toBe(2)
  })

  test('a 2xx write whose response names another path (Location) invalidates it too; another host not', async () => {
    for (const path of ['/fresh/5', '/fresh/6', '/fresh/7']) await send(base, path)
    const host = new URL(base).host
    await send(base, '/fresh/5?location=/fresh/6', { method: 'POST', body: 'x' })
    await send(base, `/fresh/5?location=${encodeURIComponent('http://elsewhere.test/fresh/7')}`, {
      method: 'POST',
      body: 'x',
    })
    await send(base, `/fresh/5?location=${encodeURIComponent(`http://${host}/fresh/5`)}`, {
      method: 'POST',
      body: 'x',
    })
    const after = await Promise.all(['/fresh/6', '/fresh/7'].map((p) => send(base, p)))
    expect(after.map((r) => r.headers['x-cache'])).toEqual(['MISS', 'HIT'])
    expect([count(upstream, 'GET /fresh/6'), count(upstream, 'GET /fresh/7')]).toEqual([2, 1])
  })

  test('on a fill the upstream gets only what the key holds; forwarding headers bypass', async () => {
    const fill = await send(base, '/echo/1', {
      headers: { 'user-agent': 'evil', 'x-api-version': '9', 'accept-language': 'fr' },
    })
    expect(fill.headers['x-cache']).toBe('MISS')
    const seen = upstream.seen.get('GET /echo/1')?.headers ?? {}
    expect(seen['user-agent']).toBeUndefined()
    expect(seen['x-api-version']).toBeUndefined()
    expect(seen['accept-language']).toBeUndefined()
    expect(seen.host).toBe(new URL(upstream.url).host)
    const forwarded = await send(base, '/echo/2', {
      headers: { 'x-forwarded-host': 'evil.example' },
    })
    expect(forwarded.headers['cache-status']).toBe('cachet; fwd=bypass; detail=forwarded')
    // Bypassed: forwarded as received (the response is not stored).
    expect(upstream.seen.get('GET /echo/2')?.headers['x-forwarded-host']).toBe('evil.example')
  })

  test('200 concurrent cold requests: one upstream call', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, () => send(base, '/slow/1')))
    expect(replies.every((r) => r.status === 200)).toBe(true)
    expect(replies.filter((r) => r.headers['x-cache'] === 'MISS')).toHaveLength(1)
    expect(count(upstream, 'GET /slow/1')).toBe(1)
  })

  test('HEAD fills the GET entry; a 2 MiB stream passes through, not stored', async () => {
    const head = await send(base, '/fresh/4', { method: 'HEAD' })
    expect([head.status, head.headers['x-cache'], head.body.length]).toEqual([200, 'MISS', 0])
    expect(upstream.seen.get('GET /fresh/4')?.method).toBe('GET')
    expect((await send(base, '/fresh/4')).headers['x-cache']).toBe('HIT')
    const big = await send(base, '/big/1')
    expect(big.body.length).toBe(2 * 1024 * 1024)
    expect((await send(base, '/big/1')).headers['x-cache']).toBe('BYPASS')
    expect(count(upstream, 'GET /big/1')).toBe(2)
  })

  test('an unreachable upstream is a 502, never stored', async () => {
    const dead = createGateway({ originUrl: 'http://127.0.0.1:1' })
    const s = http.createServer(dead.handler)
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
    try {
      for (let i = 0; i < 2; i++) {
        const r = await send(url, '/fresh/1')
        expect(r.status).toBe(502)
        expect(r.headers['x-cache']).toBe('BYPASS')
      }
    } finally {
      await new Promise((resolve) => s.close(resolve))
      await dead.close()
    }
  })

  test('passHeaders: a listed header reaches the upstream on a fill; the others still do not', async () => {
    const passing = createGateway({ originUrl: upstream.url, passHeaders: ['accept-language'] })
    const { server: s, url } = await listen(passing)
    try {
      await send(url, '/echo/3', { headers: { 'accept-language': 'fr', 'user-agent': 'u' } })
      const seen = upstream.seen.get('GET /echo/3')?.headers ?? {}
      expect([seen['accept-language'], seen['user-agent']]).toEqual(['fr', undefined])
    } finally {
      await new Promise((resolve) => s.close(resolve))
      await passing.close()
    }
  })

  test('a bad ORIGIN_URL is refused with a message naming it', () => {
    expect(() => createGateway({ originUrl: 'ftp://x' })).toThrow(/ORIGIN_URL: expected an http/)
    expect(() => createGateway({ originUrl: 'not a url' })).toThrow(/ORIGIN_URL: expected an http/)
  })
})

async function listen(g: Gateway): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(g.handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

// RFC 9111 §4.3: a stored copy past its freshness is revalidated with a
// conditional request; a 304 refreshes it. With Redis, two gateways share the
// store: the one that revalidates never held the copy in its memory.
describe.each(['memory', 'redis'] as const)('revalidation through the gateway (%s)', (store) => {
  let upstream: Upstream
  let a: Gateway
  let b: Gateway
  const servers: http.Server[] = []
  let urlA: string
  let urlB: string

  beforeAll(async () => {
    upstream = await startUpstream()
    const shared =
      store === 'redis'
        ? { redisUrl: sharedRedisUrl(), redisPrefix: `reval-${process.pid}-${Date.now()}` }
        : {}
    a = createGateway({ originUrl: upstream.url, ...shared })
    b = store === 'redis' ? createGateway({ originUrl: upstream.url, ...shared }) : a
    await Promise.all([a.cache.ready, b.cache.ready])
    const [la, lb] = [await listen(a), await listen(b)]
    servers.push(la.server, lb.server)
    urlA = la.url
    urlB = lb.url
  })
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections()
      await new Promise((resolve) => s.close(resolve))
    }
    await a.close()
    await b.close()
    await upstream.close()
  })

  const upstreamCalls = (path: string) => [
    count(upstream, `GET ${path}`),
    count(upstream, `304 ${path}`),
  ]

  test('a stale copy is revalidated with If-None-Match; the 304 renews its freshness and headers', async () => {
    const path = '/etag/1'
    // Age 60 of max-age 60: stored already stale, kept for revalidation (it has an ETag).
    upstream.validated.set(path, { version: 1, age: 60 })
    const first = await send(urlA, path)
    expect([first.status, first.headers['x-cache'], first.headers['cache-status']]).toEqual([
      200,
      'MISS',
      'cachet; fwd=miss',
    ])
    await a.cache.engine.settled()
    upstream.validated.set(path, { version: 1, age: 0 })
    const revalidated = await send(urlB, path)
    expect(upstream.seen.get(`GET ${path}`)?.headers['if-none-match']).toBe('"v1"')
    expect(revalidated.status).toBe(200)
    expect(revalidated.headers['x-cache']).toBe('HIT')
    expect(revalidated.headers['cache-status']).toMatch(
      /^cachet; fwd=stale; fwd-status=304; ttl=(60|59)$/,
    )
    expect(json(revalidated)).toEqual({ version: 1, n: 1 })
    expect(revalidated.headers.etag).toBe('"v1"')
    // The 304's fields replace the stored ones.
    expect(revalidated.headers['x-upstream']).toBe('304 #2')
    expect(upstreamCalls(path)).toEqual([2, 1])
    await b.cache.engine.settled()
    // Fresh again, in both gateways: no upstream call.
    for (const url of [urlB, urlA]) {
      const hit = await send(url, path)
      expect([hit.headers['x-cache'], hit.headers['x-upstream']]).toEqual(['HIT', '304 #2'])
      expect(hit.headers['cache-status']).toMatch(/^cachet; hit; ttl=(60|59)$/)
    }
    // The client's own conditional is answered by the cache.
    const mine = await send(urlB, path, { headers: { 'if-none-match': '"v1"' } })
    expect([mine.status, mine.headers['x-cache']]).toEqual([304, 'HIT'])
    expect(upstreamCalls(path)).toEqual([2, 1])
  })

  test('a changed representation: the upstream answers 200, which replaces the copy (fwd=stale)', async () => {
    const path = '/etag/2'
    upstream.validated.set(path, { version: 1, age: 60 })
    await send(urlA, path)
    await a.cache.engine.settled()
    upstream.validated.set(path, { version: 2, age: 0 })
    const changed = await send(urlB, path)
    expect(upstream.seen.get(`GET ${path}`)?.headers['if-none-match']).toBe('"v1"')
    expect([changed.status, changed.headers['x-cache'], changed.headers['cache-status']]).toEqual([
      200,
      'MISS',
      'cachet; fwd=stale',
    ])
    expect(json(changed)).toEqual({ version: 2, n: 2 })
    await b.cache.engine.settled()
    const hit = await send(urlB, path)
    expect([hit.headers['x-cache'], hit.headers.etag, json(hit)]).toEqual([
      'HIT',
      '"v2"',
      { version: 2, n: 2 },
    ])
    expect(upstreamCalls(path)).toEqual([2, 0])
  })

  test('a 304 naming another entity tag updates nothing: the copy goes out once more, stale, and is dropped', async () => {
    const path = '/etag/3'
    upstream.validated.set(path, { version: 1, age: 60 })
    await send(urlA, path)
    await a.cache.engine.settled()
    upstream.validated.set(path, { version: 1, age: 0, lie: true })
    const r = await send(urlB, path)
    expect([r.status, r.headers['x-cache'], json(r)]).toEqual([200, 'STALE', { version: 1, n: 1 }])
    // Not refreshed: the first response's own fields.
    expect(r.headers['x-upstream']).toBe('200 #1')
    expect(r.headers['cache-status']).toMatch(
      /^cachet; fwd=stale; fwd-status=304; ttl=-?\d+; detail=validator-mismatch$/,
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    // Dropped from this gateway's memory and from Redis: its next request asks
    // unconditionally. (The other gateway's memory copy, if any, goes the same way on its next use.)
    const next = await send(urlB, path)
    expect(upstream.seen.get(`GET ${path}`)?.headers['if-none-match']).toBeUndefined()
    expect([next.headers['x-cache'], json(next)]).toEqual(['MISS', { version: 1, n: 3 }])
    expect(upstreamCalls(path)).toEqual([3, 1])
  })

  test('Vary: Accept-Encoding: each value its own variant, shared by both gateways, invalidated together', async () => {
    const path = '/negotiate/1'
    const get = (url: string, encoding?: string) =>
      send(url, path, encoding === undefined ? {} : { headers: { 'accept-encoding': encoding } })
    const gzip = await get(urlA, 'gzip')
    const br = await get(urlA, 'br')
    expect([gzip.headers['x-cache'], br.headers['x-cache']]).toEqual(['MISS', 'MISS'])
    expect([json(gzip), json(br)]).toEqual([
      { encoding: 'gzip', n: 1 },
      { encoding: 'br', n: 2 },
    ])
    await a.cache.engine.settled()
    // Each request gets the variant its own header selects, in either gateway.
    for (const url of [urlA, urlB]) {
      const hits = await Promise.all([get(url, 'gzip'), get(url, 'br'), get(url, ' gzip ')])
      expect(hits.map((r) => [r.headers['x-cache'], json(r).n])).toEqual([
        ['HIT', 1],
        ['HIT', 2],
        ['HIT', 1],
      ])
      expect(hits[0]?.headers.vary).toBe('Accept-Encoding')
    }
    const none = await get(urlB, undefined)
    expect([none.headers['x-cache'], json(none)]).toEqual(['MISS', { encoding: null, n: 3 }])
    expect(count(upstream, `GET ${path}`)).toBe(3)
    await b.cache.engine.settled()
    await b.cache.invalidate({ pattern: path })
    for (const url of [urlA, urlB]) {
      const after = await get(url, 'gzip')
      expect(after.headers['x-cache']).toBe(url === urlA ? 'MISS' : 'HIT')
      await (url === urlA ? a : b).cache.engine.settled()
    }
    expect(count(upstream, `GET ${path}`)).toBe(4)
  })

  test('Vary: 100 concurrent cold requests for two variants: one upstream call each', async () => {
    const path = '/negotiate/2'
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send(i % 2 === 0 ? urlA : urlB, path, {
          headers: { 'accept-encoding': i % 4 < 2 ? 'gzip' : 'br' },
        }),
      ),
    )
    for (const [i, r] of replies.entries()) expect(json(r).encoding).toBe(i % 4 < 2 ? 'gzip' : 'br')
    // One gateway alone coalesces to one call per variant; two processes
    // sharing Redis coalesce through its fill lock.
    expect(count(upstream, `GET ${path}`)).toBe(2)
  })

  test('an invalidated copy is not revalidated: a plain request, a full response', async () => {
    const path = '/etag/4'
    upstream.validated.set(path, { version: 1, age: 60 })
    await send(urlA, path)
    await a.cache.engine.settled()
    await a.cache.invalidate({ pattern: path })
    upstream.validated.set(path, { version: 1, age: 0 })
    const r = await send(urlB, path)
    expect(upstream.seen.get(`GET ${path}`)?.headers['if-none-match']).toBeUndefined()
    expect([r.headers['x-cache'], r.headers['cache-status']]).toEqual(['MISS', 'cachet; fwd=miss'])
    expect(upstreamCalls(path)).toEqual([2, 0])
  })
})

describe('examples/express-gateway as a process', () => {
  test('listens on PORT, forwards, caches, and exits 0 on SIGTERM', async () => {
    const upstream = await startUpstream()
    const gateway = await startShopProcess('gateway', { ORIGIN_URL: upstream.url })
    try {
      expect((await send(gateway.url, '/fresh/9')).headers['x-cache']).toBe('MISS')
      expect((await send(gateway.url, '/fresh/9')).headers['x-cache']).toBe('HIT')
      expect(count(upstream, 'GET /fresh/9')).toBe(1)
      expect(await gateway.stop()).toEqual({ code: 0, signal: null })
    } finally {
      if (!gateway.exited) await gateway.stop()
      await upstream.close()
    }
  })

  test('without ORIGIN_URL: exit 1 and one line saying what is missing', () => {
    const env = { ...process.env }
    delete env.ORIGIN_URL
    const r = spawnSync(process.execPath, [shopEntry('gateway')], { env, encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n')).toEqual([
      'ORIGIN_URL is required: the upstream every request is forwarded to, e.g. http://127.0.0.1:8080',
    ])
  })
})
