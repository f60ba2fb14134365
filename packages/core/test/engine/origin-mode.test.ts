import type { OutgoingHttpHeaders } from 'node:http'
import { CacheEngine } from '../../src/engine/engine'
import type { Fill } from '../../src/engine/fill'
import { replay } from '../../src/engine/replay'
import type { CacheRule } from '../../src/rules/types'
import { exchangeFor, FakeOrigin, lookup, request } from '../support'

// `ttl: 'origin'`: the response's own headers decide its freshness, as in an
// RFC 9111 shared cache. Each case: the origin's headers, then when the copy
// is still a hit and when it is not, with the origin's calls counted.

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0)
let clock = NOW
beforeEach(() => {
  clock = NOW
  jest.spyOn(Date, 'now').mockImplementation(() => clock)
})
afterEach(() => jest.restoreAllMocks())

const http = (ms: number) => new Date(ms).toUTCString()

const rules: CacheRule[] = [
  { name: 'o', path: '/o/:id', ttl: 'origin' },
  { name: 'capped', path: '/capped/:id', ttl: 'origin', maxTtl: '1m' },
  { name: 'swr', path: '/swr/:id', ttl: 'origin', staleWhileRevalidate: 30 },
]

interface Case {
  name: string
  path?: string
  headers: OutgoingHttpHeaders
  /** Seconds after the fill at which the copy is still a hit, and the first at which it is not. */
  hitAt?: number
  missAt: number
}

const cases: Case[] = [
  {
    name: 'RFC 9111 §5.2.2.1: max-age',
    headers: { 'cache-control': 'max-age=60' },
    hitAt: 59,
    missAt: 60,
  },
  {
    name: 'RFC 9111 §5.2.2.10: s-maxage wins over max-age in a shared cache',
    headers: { 'cache-control': 'max-age=600, s-maxage=30' },
    hitAt: 29,
    missAt: 30,
  },
  {
    name: 'RFC 9111 §5.3: Expires minus Date',
    headers: { date: http(NOW), expires: http(NOW + 120_000) },
    hitAt: 119,
    missAt: 120,
  },
  {
    name: 'RFC 9111 §4.2.3: the Age the response already had counts',
    headers: { 'cache-control': 'max-age=60', age: '50' },
    hitAt: 9,
    missAt: 10,
  },
  {
    name: 'RFC 9111 §4.2.3: a Date in the past counts as age',
    headers: { 'cache-control': 'max-age=60', date: http(NOW - 20_000) },
    hitAt: 39,
    missAt: 40,
  },
  {
    name: 'RFC 9111 §4.2.2: heuristic, 10% of the time since Last-Modified',
    headers: { 'last-modified': http(NOW - 1000_000) },
    hitAt: 99,
    missAt: 100,
  },
  {
    name: 'maxTtl caps what a response claims',
    path: '/capped/1',
    headers: { 'cache-control': 'max-age=86400' },
    hitAt: 59,
    missAt: 60,
  },
  {
    name: 'RFC 9111 §5.2.2.2: must-revalidate: no stale window, a miss at once',
    path: '/swr/1',
    headers: { 'cache-control': 'max-age=10, must-revalidate' },
    hitAt: 9,
    missAt: 10,
  },
  {
    name: 'the rule’s stale-while-revalidate applies past the freshness otherwise',
    path: '/swr/2',
    headers: { 'cache-control': 'max-age=10' },
    hitAt: 9,
    missAt: 40,
  },
  { name: 'RFC 9111 §4.2.1: no freshness at all: not stored', headers: {}, missAt: 0 },
  {
    name: 'max-age=0: not stored',
    headers: { 'cache-control': 'max-age=0' },
    missAt: 0,
  },
  {
    name: 'an Age past the lifetime: not stored',
    headers: { 'cache-control': 'max-age=60', age: '60' },
    missAt: 0,
  },
  {
    name: 'RFC 9111 §5.3: an invalid Expires is already expired',
    headers: { expires: '0' },
    missAt: 0,
  },
  {
    name: 'RFC 9111 §4.2.1: a malformed max-age is stale, never forever',
    headers: { 'cache-control': 'max-age=forever', expires: http(NOW + 3600_000) },
    missAt: 0,
  },
]

describe('ttl: origin', () => {
  test.each(cases)('$name', async (c) => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const path = c.path ?? '/o/1'
    await request(engine, origin, path, { respond: { headers: c.headers } })
    const start = clock
    let calls = 1
    if (c.hitAt !== undefined) {
      clock = start + c.hitAt * 1000
      const out = (await request(engine, origin, path, { respond: { headers: c.headers } })).outcome
      expect(['hit', 'stale:revalidate']).toContain(out)
      expect(origin.calls).toBe(calls)
    }
    clock = start + c.missAt * 1000
    const after = (await request(engine, origin, path, { respond: { headers: c.headers } })).outcome
    expect(after).toBe('miss')
    calls++
    expect(origin.calls).toBe(calls)
    await engine.close()
  })

  test('Age on a hit counts from when the response was generated (RFC 9111 §5.1)', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/2', {
      respond: { headers: { 'cache-control': 'max-age=600', age: '100' } },
    })
    clock += 5000
    const l = await lookup(engine, '/o/2')
    if (l.type !== 'hit') throw new Error(`expected a hit, got ${l.type}`)
    const r = replay(l.entry, clock, undefined, false)
    const age = r.headers[r.headers.indexOf('age') + 1]
    expect(age).toBe('105')
    expect(r.headers).toContain('cache-status')
    expect(r.headers[r.headers.indexOf('cache-status') + 1]).toBe('cachet; hit; ttl=495')
    await engine.close()
  })

  test('the veto is named: no-lifetime', async () => {
    const engine = new CacheEngine({ rules })
    const events: string[] = []
    engine.on('bypass', (e: { reason: string }) => events.push(e.reason))
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/3', { respond: { headers: {} } })
    expect(events).toEqual(['no-lifetime'])
    await engine.close()
  })
})

describe('ttl: origin, at start-up', () => {
  const bad: Array<[CacheRule, RegExp]> = [
    [
      { path: '/a', ttl: 60, maxTtl: 10 } as CacheRule,
      /option "maxTtl": only a rule with ttl: 'origin' has a maxTtl/,
    ],
    [
      { path: '/a', ttl: 'origin', maxTtl: 0 },
      /option "maxTtl": expected more than 0 seconds, got 0/,
    ],
    // A typo the types catch too (see types.test.ts).
    [{ path: '/a', ttl: 'origen' } as unknown as CacheRule, /option "ttl": /],
  ]
  test.each(bad)('%j is refused', (rule, message) => {
    expect(() => new CacheEngine({ rules: [rule] })).toThrow(message)
  })
})

describe('ttl: origin, unsafe methods invalidate their target (RFC 9111 §4.4)', () => {
  const MAX_AGE = { respond: { headers: { 'cache-control': 'max-age=600' } } }

  test.each(['POST', 'PUT', 'PATCH', 'DELETE', 'M-SEARCH', 'PURGE'])(
    '%s /o/1 invalidates /o/1 (every query), not /o/2',
    async (method) => {
      const engine = new CacheEngine({ rules })
      const origin = new FakeOrigin()
      for (const url of ['/o/1', '/o/1?a=1', '/o/2']) await request(engine, origin, url, MAX_AGE)
      const m = engine.match(method, '/o/1')
      expect(m?.rule.kind).toBe('invalidate')
      if (m?.rule.kind !== 'invalidate') throw new Error('no write match')
      await engine.invalidateAfterWrite(m as Parameters<CacheEngine['invalidateAfterWrite']>[0], {
        method,
        path: '/o/1',
        rawQuery: '',
        headers: {},
        user: undefined,
      })
      expect((await request(engine, origin, '/o/1', MAX_AGE)).outcome).toBe('miss')
      expect((await request(engine, origin, '/o/1?a=1', MAX_AGE)).outcome).toBe('miss')
      expect((await request(engine, origin, '/o/2', MAX_AGE)).outcome).toBe('hit')
      expect(origin.calls).toBe(5)
      await engine.close()
    },
  )

  test('a path with pattern characters is invalidated literally', async () => {
    const engine = new CacheEngine({ rules: [{ path: '/f/*rest', ttl: 'origin' }] })
    const origin = new FakeOrigin()
    for (const url of ['/f/a:b*(c)', '/f/a:bx(c)']) await request(engine, origin, url, MAX_AGE)
    const m = engine.match('DELETE', '/f/a:b*(c)')
    if (m?.rule.kind !== 'invalidate') throw new Error('no write match')
    await engine.invalidateAfterWrite(m as Parameters<CacheEngine['invalidateAfterWrite']>[0], {
      method: 'DELETE',
      path: '/f/a:b*(c)',
      rawQuery: '',
      headers: {},
      user: undefined,
    })
    expect((await request(engine, origin, '/f/a:b*(c)', MAX_AGE)).outcome).toBe('miss')
    expect((await request(engine, origin, '/f/a:bx(c)', MAX_AGE)).outcome).toBe('hit')
    await engine.close()
  })

  test.each([
    ['Location on the same path', { location: '/o/2' }, ['/o/1', '/o/2']],
    ['absolute, same host', { location: 'http://shop.test/o/2' }, ['/o/1', '/o/2']],
    ['absolute https, same host', { location: 'https://shop.test/o/2?x=1' }, ['/o/1', '/o/2']],
    ['another host: never (RFC 9111 §4.4)', { location: 'http://evil.test/o/2' }, ['/o/1']],
    ['same host name, another port', { location: 'http://shop.test:81/o/2' }, ['/o/1']],
    ['relative reference', { 'content-location': '3' }, ['/o/1', '/o/3']],
    ['both fields', { location: '/o/2', 'content-location': '/o/3' }, ['/o/1', '/o/2', '/o/3']],
    ['the target itself, once', { location: '/o/1' }, ['/o/1']],
    ['a path no origin-driven rule caches', { location: '/elsewhere/1' }, ['/o/1']],
    ['not an http URL', { location: 'javascript:alert(1)' }, ['/o/1']],
    ['garbage', { location: 'http://[' }, ['/o/1']],
  ] as const)('the response’s Location / Content-Location: %s', (_, response, patterns) => {
    const engine = new CacheEngine({ rules })
    const m = engine.match('POST', '/o/1')
    if (m?.rule.kind !== 'invalidate') throw new Error('no write match')
    const ex = { method: 'POST', path: '/o/1', rawQuery: '', headers: { host: 'shop.test' } }
    const target = engine.writeTarget(
      m as Parameters<CacheEngine['writeTarget']>[0],
      { ...ex, user: undefined },
      response,
    )
    expect(target.patterns).toEqual(patterns.map((p) => p))
  })

  test('a 201 with Location invalidates that copy too, before the answer', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    for (const url of ['/o/1', '/o/2', '/o/3']) await request(engine, origin, url, MAX_AGE)
    const m = engine.match('POST', '/o/1')
    if (m?.rule.kind !== 'invalidate') throw new Error('no write match')
    await engine.invalidateAfterWrite(
      m as Parameters<CacheEngine['invalidateAfterWrite']>[0],
      { method: 'POST', path: '/o/1', rawQuery: '', headers: {}, user: undefined },
      { location: '/o/2' },
    )
    expect((await request(engine, origin, '/o/1', MAX_AGE)).outcome).toBe('miss')
    expect((await request(engine, origin, '/o/2', MAX_AGE)).outcome).toBe('miss')
    expect((await request(engine, origin, '/o/3', MAX_AGE)).outcome).toBe('hit')
    expect(origin.calls).toBe(5)
    await engine.close()
  })

  test.each(['OPTIONS', 'TRACE'])('%s is safe: it invalidates nothing', async (method) => {
    const engine = new CacheEngine({ rules })
    expect(engine.match(method, '/o/1')).toBeUndefined()
    await engine.close()
  })

  test('rule-driven rules do not: an unsafe method matches nothing there', async () => {
    const engine = new CacheEngine({ rules: [{ path: '/r/:id', ttl: 60 }] })
    expect(engine.match('POST', '/r/1')).toBeUndefined()
    await engine.close()
  })
})

describe("ttl: origin, the response's own stale windows (RFC 5861)", () => {
  const at = async (engine: CacheEngine, path: string, seconds: number, start: number) => {
    clock = start + seconds * 1000
    return lookup(engine, path)
  }

  test('stale-while-revalidate=30: served stale (one refresh) until 40 s, then a miss', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const headers = { 'cache-control': 'max-age=10, stale-while-revalidate=30' }
    await request(engine, origin, '/o/5', { respond: { headers } })
    const start = clock
    expect((await at(engine, '/o/5', 25, start)).type).toBe('stale')
    expect((await at(engine, '/o/5', 40, start)).type).toBe('miss')
    await engine.close()
  })

  test('stale-if-error=30: a miss that carries the stale copy for a failure, until 40 s', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const headers = { 'cache-control': 'max-age=10, stale-if-error=30' }
    await request(engine, origin, '/o/6', { respond: { headers } })
    const start = clock
    const inside = await at(engine, '/o/6', 25, start)
    if (inside.type !== 'miss') throw new Error(`expected a miss, got ${inside.type}`)
    expect(inside.fill.stale?.body.toString()).toBe('v1')
    inside.fill.onAbort()
    const past = await at(engine, '/o/6', 41, start)
    if (past.type !== 'miss') throw new Error(`expected a miss, got ${past.type}`)
    expect(past.fill.stale).toBeUndefined()
    past.fill.onAbort()
    await engine.close()
  })

  test.each(['must-revalidate', 'proxy-revalidate', 's-maxage=10'])(
    '%s: no stale window, whatever the directives say',
    async (directive) => {
      const engine = new CacheEngine({ rules })
      const origin = new FakeOrigin()
      const headers = { 'cache-control': `max-age=10, ${directive}, stale-while-revalidate=30` }
      await request(engine, origin, '/o/7', { respond: { headers } })
      expect((await at(engine, '/o/7', 11, clock)).type).toBe('miss')
      await engine.close()
    },
  )

  test('a window longer than maxTtl is cut to maxTtl; a malformed one is none', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/capped/5', {
      respond: { headers: { 'cache-control': 'max-age=10, stale-while-revalidate=3600' } },
    })
    const start = clock
    expect((await at(engine, '/capped/5', 69, start)).type).toBe('stale')
    expect((await at(engine, '/capped/5', 71, start)).type).toBe('miss')
    await request(engine, origin, '/o/8', {
      respond: { headers: { 'cache-control': 'max-age=10, stale-while-revalidate=soon' } },
    })
    expect((await at(engine, '/o/8', 11, clock)).type).toBe('miss')
    await engine.close()
  })
})

describe('ttl: origin, revalidation with a conditional request (RFC 9111 §4.3)', () => {
  const at = async (engine: CacheEngine, path: string, ms: number) => {
    clock = ms
    return lookup(engine, path)
  }
  const missOf = async (engine: CacheEngine, path: string, ms: number) => {
    const l = await at(engine, path, ms)
    if (l.type !== 'miss') throw new Error(`expected a miss, got ${l.type}`)
    return l.fill
  }
  /** The route answers the conditional request 304 with `headers`. */
  const answer304 = (fill: Fill, origin: FakeOrigin, headers: OutgoingHttpHeaders) => {
    origin.calls++
    fill.markRevalidating()
    return fill.notModified(headers)
  }
  const header = (entry: { headers: readonly string[] }, name: string) =>
    entry.headers.filter((_, i, all) => i % 2 === 1 && all[i - 1] === name)

  test('§5.2.2.4: no-cache with an ETag: stored stale, each use asks with If-None-Match; the 304 is merged', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const headers = {
      'cache-control': 'no-cache',
      etag: '"a"',
      'content-type': 'text/plain',
      'content-md5': 'md5-of-v1',
      'x-version': '1',
    }
    expect((await request(engine, origin, '/o/20', { respond: { headers } })).outcome).toBe('miss')
    const start = clock
    const fill = await missOf(engine, '/o/20', start + 1000)
    expect(fill.conditionalHeaders()).toEqual({ 'if-none-match': '"a"' })
    const entry = answer304(fill, origin, {
      'cache-control': 'max-age=60',
      'x-version': '2',
      'content-type': 'text/plain; charset=utf-8',
      'content-md5': 'md5-of-nothing',
      'content-length': '0',
    })
    // Updated from the 304, except the fields the stored body depends on.
    expect(entry.body.toString()).toBe('v1')
    expect(entry.etag).toBe('"a"')
    expect(header(entry, 'x-version')).toEqual(['2'])
    expect(header(entry, 'cache-control')).toEqual(['max-age=60'])
    expect(header(entry, 'content-type')).toEqual(['text/plain; charset=utf-8'])
    expect(header(entry, 'content-md5')).toEqual(['md5-of-v1'])
    expect(entry.staleAt).toBe(start + 1000 + 60_000)
    const hit = await at(engine, '/o/20', start + 30_000)
    if (hit.type !== 'hit') throw new Error(`expected a hit, got ${hit.type}`)
    expect(header(hit.entry, 'x-version')).toEqual(['2'])
    expect(origin.calls).toBe(2)
    await engine.close()
  })

  test('Last-Modified only: If-Modified-Since', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const lastModified = http(NOW - 3600_000)
    await request(engine, origin, '/o/21', {
      respond: { headers: { 'cache-control': 'max-age=0', 'last-modified': lastModified } },
    })
    const fill = await missOf(engine, '/o/21', clock + 1)
    // Not the strong ETag the cache computed for it: the origin never issued
    // it, and its presence would make the origin ignore If-Modified-Since.
    expect(fill.conditionalHeaders()).toEqual({ 'if-modified-since': lastModified })
    await engine.close()
  })

  test('a copy with a validator is kept up to maxTtl past its freshness, then forgotten', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/capped/20', {
      respond: { headers: { 'cache-control': 'max-age=10', etag: '"c"' } },
    })
    const start = clock
    expect((await missOf(engine, '/capped/20', start + 69_000)).conditionalHeaders()).toEqual({
      'if-none-match': '"c"',
    })
    expect(
      (await missOf(engine, '/capped/20', start + 70_000)).conditionalHeaders(),
    ).toBeUndefined()
    await engine.close()
  })

  test('a 304 with another entity tag updates nothing (validator-mismatch): the copy is returned once more, then dropped', async () => {
    const engine = new CacheEngine({ rules })
    const events: string[] = []
    engine.on('bypass', (e: { reason: string }) => events.push(e.reason))
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/22', {
      respond: { headers: { 'cache-control': 'no-cache', etag: '"a"' } },
    })
    const fill = await missOf(engine, '/o/22', clock + 1000)
    const sent = answer304(fill, origin, { etag: '"b"', 'cache-control': 'max-age=60' })
    expect([sent.etag, sent.body.toString(), header(sent, 'cache-control')]).toEqual([
      '"a"',
      'v1',
      ['no-cache'],
    ])
    expect(events).toEqual(['validator-mismatch'])
    // Dropped: the next request asks unconditionally, and is not made to wait for a marker.
    const next = await missOf(engine, '/o/22', clock + 1000)
    expect(next.conditionalHeaders()).toBeUndefined()
    expect(next.leader).toBe(true)
    expect(origin.calls).toBe(2)
    await engine.close()
  })

  test('requests waiting on a revalidation get the copy it validated (no-cache: no herd of full requests)', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/26', {
      respond: { headers: { 'cache-control': 'no-cache', etag: '"w"' } },
    })
    clock += 1000
    const [lead, ...waiting] = [0, 1, 2].map(() => lookup(engine, '/o/26'))
    const first = await lead
    if (first?.type !== 'miss') throw new Error('expected the first to lead')
    answer304(first.fill, origin, { 'cache-control': 'no-cache' })
    const rest = await Promise.all(waiting)
    expect(rest.map((l) => l.type)).toEqual(['hit', 'hit'])
    expect(origin.calls).toBe(2)
    // A later request asks again: no-cache.
    clock += 1000
    expect((await lookup(engine, '/o/26')).type).toBe('miss')
    await engine.close()
  })

  test('only a 200 is kept for revalidation; another status with a validator and no freshness is not stored', async () => {
    const engine = new CacheEngine({
      rules: [{ name: 'o404', path: '/n/:id', ttl: 'origin', statuses: [200, 404] }],
    })
    const origin = new FakeOrigin()
    const events: string[] = []
    engine.on('bypass', (e: { reason: string }) => events.push(e.reason))
    await request(engine, origin, '/n/1', {
      respond: { status: 404, headers: { 'cache-control': 'no-cache', etag: '"x"' } },
    })
    expect(events).toEqual(['no-lifetime'])
    await engine.close()
  })

  test('a 304 that says no-store: sent, not stored', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/23', {
      respond: { headers: { 'cache-control': 'no-cache', etag: '"a"' } },
    })
    const fill = await missOf(engine, '/o/23', clock + 1000)
    // Were it stored, max-age=60 would make it a hit.
    const sent = answer304(fill, origin, { 'cache-control': 'no-store, max-age=60' })
    expect(sent.body.toString()).toBe('v1')
    expect((await at(engine, '/o/23', clock + 1000)).type).toBe('miss')
    await engine.close()
  })

  test('an invalidated copy is not revalidated', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/24', {
      respond: { headers: { 'cache-control': 'no-cache', etag: '"a"' } },
    })
    await engine.invalidate({ pattern: '/o/24' })
    expect((await missOf(engine, '/o/24', clock + 1000)).conditionalHeaders()).toBeUndefined()
    await engine.close()
  })

  test('the background refresh of a stale-while-revalidate copy is conditional too', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/25', {
      respond: {
        headers: { 'cache-control': 'max-age=10, stale-while-revalidate=30', etag: '"s"' },
      },
    })
    const stale = await at(engine, '/o/25', clock + 20_000)
    expect(stale.type).toBe('stale')
    const { ex, m } = exchangeFor(engine, '/o/25')
    const refresh = await engine.revalidate(m, ex)
    if (refresh === undefined) throw new Error('expected a refresh fill')
    expect(refresh.conditionalHeaders()).toEqual({ 'if-none-match': '"s"' })
    answer304(refresh, origin, { 'cache-control': 'max-age=10' })
    expect((await at(engine, '/o/25', clock + 5000)).type).toBe('hit')
    expect(origin.calls).toBe(2)
    await engine.close()
  })

  test('rule-driven rules never revalidate: a plain request', async () => {
    const engine = new CacheEngine({ rules: [{ path: '/r/:id', ttl: 10 }] })
    const origin = new FakeOrigin()
    await request(engine, origin, '/r/1', { respond: { headers: { etag: '"r"' } } })
    const fill = await missOf(engine, '/r/1', clock + 11_000)
    expect(fill.conditionalHeaders()).toBeUndefined()
    expect(() => fill.notModified({})).toThrow(/did not revalidate/)
    await engine.close()
  })
})
