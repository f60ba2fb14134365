import { CacheEngine } from '../../src/engine/engine'
import { replay, type StaleReplay } from '../../src/engine/replay'
import {
  bypassOutcome,
  CACHE_STATUS_MISS,
  cacheStatusBypass,
  cacheStatusStale,
  fillOutcome,
} from '../../src/engine/status-headers'
import type { CacheEntry } from '../../src/entry/entry'
import { strongEtag } from '../../src/http/conditional'
import { FakeOrigin, lookup, makeEntry, request } from '../support'

// biome-ignore format: one header (name, value) per line
const STORED = [
  'content-type', 'text/plain',
  'cache-control', 'max-age=60',
  'content-location', '/doc.txt',
  'expires', 'Thu, 01 Jan 2099 00:00:00 GMT',
  'vary', 'accept-language',
  'last-modified', 'Mon, 01 Jan 2024 00:00:00 GMT',
  'x-custom', '1',
]

const ok = makeEntry({
  status: 200,
  headers: STORED,
  body: Buffer.from('hello'),
  etag: '"e1"',
  cachedAt: 1000,
  staleAt: 61_000,
  deleteAt: 61_000,
})

/** `[name, value, ...]` as `{ name: value }` (the tests use no repeated names). */
const asObject = (list: readonly string[]) => {
  const out: Record<string, string> = {}
  for (let i = 0; i < list.length; i += 2) out[list[i] as string] = list[i + 1] as string
  return out
}

interface ReplayCase {
  name: string
  entry: CacheEntry
  now: number
  ifNoneMatch?: string
  ifModifiedSince?: string
  head?: boolean
  status: number
  headers: Record<string, string>
  body: string | undefined
}

const full = (over: Record<string, string>) => ({ ...asObject(STORED), ...over })
const notModified = (over: Record<string, string>) => ({
  'cache-control': 'max-age=60',
  'content-location': '/doc.txt',
  expires: 'Thu, 01 Jan 2099 00:00:00 GMT',
  vary: 'accept-language',
  'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT',
  ...over,
})
/** The request's conditional fields, as an adapter passes them. */
const cond = (c: { ifNoneMatch?: string; ifModifiedSince?: string }) => ({
  'if-none-match': c.ifNoneMatch,
  'if-modified-since': c.ifModifiedSince,
})

const noLastModified = makeEntry({
  status: 200,
  headers: ['content-type', 'text/plain', 'date', 'Tue, 02 Jan 2024 00:00:00 GMT'],
  body: Buffer.from('hello'),
  etag: '"e2"',
  cachedAt: Date.UTC(2024, 0, 3),
  staleAt: Number.MAX_SAFE_INTEGER,
  deleteAt: Number.MAX_SAFE_INTEGER,
})
const neitherDate = makeEntry({
  status: 200,
  headers: ['content-type', 'text/plain'],
  body: Buffer.from('hello'),
  etag: undefined,
  cachedAt: Date.UTC(2024, 0, 3, 12, 0, 0, 500),
  staleAt: Number.MAX_SAFE_INTEGER,
  deleteAt: Number.MAX_SAFE_INTEGER,
})

const hit = (age: string, ttl: number) => ({
  age,
  'x-cache': 'HIT',
  'cache-status': `cachet; hit; ttl=${ttl}`,
})

/** RFC 9110 §13.1.3 and §13.2.2, RFC 9111 §4.3.2: If-Modified-Since on a stored 200. */
const sinceCases: Array<{
  name: string
  entry: CacheEntry
  ifNoneMatch?: string
  ifModifiedSince?: string
  status: number
}> = [
  {
    name: '§13.1.3: Last-Modified equal to the date: 304',
    entry: ok,
    ifModifiedSince: 'Mon, 01 Jan 2024 00:00:00 GMT',
    status: 304,
  },
  {
    name: '§13.1.3: Last-Modified before the date: 304',
    entry: ok,
    ifModifiedSince: 'Tue, 02 Jan 2024 00:00:00 GMT',
    status: 304,
  },
  {
    name: '§13.1.3: Last-Modified after the date: 200',
    entry: ok,
    ifModifiedSince: 'Sun, 31 Dec 2023 23:59:59 GMT',
    status: 200,
  },
  {
    name: '§13.1.3: an invalid date is ignored: 200',
    entry: ok,
    ifModifiedSince: 'yesterday',
    status: 200,
  },
  {
    name: '§5.6.7: the obsolete RFC 850 form is a date: 304',
    entry: ok,
    ifModifiedSince: 'Monday, 01-Jan-24 00:00:00 GMT',
    status: 304,
  },
  {
    name: '§5.6.7: the asctime form is a date: 304',
    entry: ok,
    ifModifiedSince: 'Mon Jan  1 00:00:00 2024',
    status: 304,
  },
  {
    name: '§13.1.3: If-None-Match present: If-Modified-Since ignored (tag differs: 200)',
    entry: ok,
    ifNoneMatch: '"other"',
    ifModifiedSince: 'Tue, 02 Jan 2024 00:00:00 GMT',
    status: 200,
  },
  {
    name: '§13.2.2: If-None-Match decides first (tag matches: 304)',
    entry: ok,
    ifNoneMatch: '"e1"',
    ifModifiedSince: 'Sun, 31 Dec 2023 00:00:00 GMT',
    status: 304,
  },
  {
    name: 'RFC 9111 §4.3.2: no Last-Modified: the stored Date (before the date: 304)',
    entry: noLastModified,
    ifModifiedSince: 'Tue, 02 Jan 2024 00:00:00 GMT',
    status: 304,
  },
  {
    name: 'RFC 9111 §4.3.2: no Last-Modified: the stored Date (after the date: 200)',
    entry: noLastModified,
    ifModifiedSince: 'Mon, 01 Jan 2024 00:00:00 GMT',
    status: 200,
  },
  {
    name: 'RFC 9111 §4.3.2: neither: the time stored, whole seconds (304)',
    entry: neitherDate,
    ifModifiedSince: 'Wed, 03 Jan 2024 12:00:00 GMT',
    status: 304,
  },
  {
    name: 'RFC 9111 §4.3.2: neither: the time stored (a second earlier: 200)',
    entry: neitherDate,
    ifModifiedSince: 'Wed, 03 Jan 2024 11:59:59 GMT',
    status: 200,
  },
  {
    name: 'only a stored 200 answers 304',
    entry: { ...ok, status: 404 },
    ifModifiedSince: 'Tue, 02 Jan 2024 00:00:00 GMT',
    status: 404,
  },
]

const cases: ReplayCase[] = [
  {
    name: 'a GET hit: stored headers, Content-Length, ETag, Age, X-Cache, Cache-Status',
    entry: ok,
    now: 3500,
    status: 200,
    headers: full({ 'content-length': '5', etag: '"e1"', ...hit('2', 58) }),
    body: 'hello',
  },
  {
    name: 'HEAD: the same headers, no body',
    entry: ok,
    now: 3500,
    head: true,
    status: 200,
    headers: full({ 'content-length': '5', etag: '"e1"', ...hit('2', 58) }),
    body: undefined,
  },
  {
    name: 'If-None-Match matching: 304 with only the RFC 9110 §15.4.5 fields',
    entry: ok,
    now: 1000,
    ifNoneMatch: '"e1"',
    status: 304,
    headers: notModified({ etag: '"e1"', ...hit('0', 60) }),
    body: undefined,
  },
  {
    name: 'If-None-Match weak and in a list: 304',
    entry: ok,
    now: 1000,
    ifNoneMatch: '"zz", W/"e1"',
    status: 304,
    headers: notModified({ etag: '"e1"', ...hit('0', 60) }),
    body: undefined,
  },
  {
    name: 'If-None-Match: * → 304',
    entry: ok,
    now: 1000,
    ifNoneMatch: '*',
    status: 304,
    headers: notModified({ etag: '"e1"', ...hit('0', 60) }),
    body: undefined,
  },
  {
    name: 'HEAD with a matching If-None-Match → 304',
    entry: ok,
    now: 1000,
    ifNoneMatch: '"e1"',
    head: true,
    status: 304,
    headers: notModified({ etag: '"e1"', ...hit('0', 60) }),
    body: undefined,
  },
  {
    name: 'If-None-Match not matching: the full response',
    entry: ok,
    now: 1000,
    ifNoneMatch: '"other"',
    status: 200,
    headers: full({ 'content-length': '5', etag: '"e1"', ...hit('0', 60) }),
    body: 'hello',
  },
  {
    name: 'a stored 404 with a matching If-None-Match is replayed, not a 304',
    entry: makeEntry({ status: 404, body: Buffer.from('no'), etag: '"n"', staleAt: 60_000 }),
    now: 0,
    ifNoneMatch: '"n"',
    status: 404,
    headers: { 'content-length': '2', etag: '"n"', ...hit('0', 60) },
    body: 'no',
  },
  {
    name: 'an entry without a validator has no ETag',
    entry: makeEntry({ status: 404, body: Buffer.from('no'), etag: undefined, staleAt: 60_000 }),
    now: 0,
    status: 404,
    headers: { 'content-length': '2', ...hit('0', 60) },
    body: 'no',
  },
  {
    name: 'Age floors to whole seconds; Cache-Status ttl rounds up',
    entry: ok,
    now: 1000 + 59_999,
    status: 200,
    headers: full({ 'content-length': '5', etag: '"e1"', ...hit('59', 1) }),
    body: 'hello',
  },
  {
    name: 'Age and ttl are never negative',
    entry: ok,
    now: 62_000,
    status: 200,
    headers: full({ 'content-length': '5', etag: '"e1"', ...hit('61', 0) }),
    body: 'hello',
  },
  {
    name: 'a clock behind cachedAt gives Age 0',
    entry: ok,
    now: 0,
    status: 200,
    headers: full({ 'content-length': '5', etag: '"e1"', ...hit('0', 61) }),
    body: 'hello',
  },
]

describe('replay', () => {
  test.each(cases)('$name', ({ entry, now, ifNoneMatch, head, status, headers, body }) => {
    const r = replay(entry, now, cond({ ifNoneMatch }), head ?? false)
    expect(r.status).toBe(status)
    expect(asObject(r.headers)).toEqual(headers)
    expect(r.headers.length).toBe(Object.keys(headers).length * 2)
    expect(r.body?.toString()).toBe(body)
  })

  test.each(sinceCases)('If-Modified-Since, $name', (c) => {
    const r = replay(c.entry, c.entry.cachedAt + 1000, cond(c), false)
    expect(r.status).toBe(c.status)
    expect(r.body === undefined).toBe(c.status === 304)
    if (c.status === 304) {
      // RFC 9110 §15.4.5: the validators and caching fields the 200 would have carried.
      const h = asObject(r.headers)
      expect(h.etag).toBe(c.entry.etag)
      expect(h['content-type']).toBeUndefined()
      expect(h['x-cache']).toBe('HIT')
    }
  })

  test('replay does not modify the stored header list', () => {
    const before = [...ok.headers]
    replay(ok, 2000, undefined, false)
    expect(ok.headers).toEqual(before)
  })
})

const stale = (age: string, cacheStatus: string) => ({
  age,
  'x-cache': 'STALE',
  'cache-status': cacheStatus,
})

interface StaleCase extends ReplayCase {
  stale: StaleReplay
}

// `ok` is fresh until 61 000; these are served past it.
const staleCases: StaleCase[] = [
  {
    name: 'stale-while-revalidate: X-Cache STALE, a negative ttl, served as a hit',
    entry: ok,
    now: 63_500,
    stale: { reason: 'revalidate' },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('62', 'cachet; hit; ttl=-3; detail=stale-while-revalidate'),
    }),
    body: 'hello',
  },
  {
    name: 'stale-if-error after the coalesced call it waited on failed: a hit, no fwd',
    entry: ok,
    now: 71_000,
    stale: { reason: 'error' },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('70', 'cachet; hit; ttl=-10; detail=stale-if-error'),
    }),
    body: 'hello',
  },
  {
    name: 'stale-if-error after its own origin call answered 503: fwd=miss and fwd-status',
    entry: ok,
    now: 71_000,
    stale: { reason: 'error', forwarded: true, originStatus: 503 },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('70', 'cachet; fwd=stale; fwd-status=503; ttl=-10; detail=stale-if-error'),
    }),
    body: 'hello',
  },
  {
    name: 'stale-if-error after its own origin call threw: fwd=miss without fwd-status',
    entry: ok,
    now: 71_000,
    stale: { reason: 'error', forwarded: true },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('70', 'cachet; fwd=stale; ttl=-10; detail=stale-if-error'),
    }),
    body: 'hello',
  },
  {
    name: 'an origin status without forwarding is not reported',
    entry: ok,
    now: 71_000,
    stale: { reason: 'error', forwarded: false, originStatus: 500 },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('70', 'cachet; hit; ttl=-10; detail=stale-if-error'),
    }),
    body: 'hello',
  },
  {
    name: 'the ttl rounds away from zero: 1 ms stale is ttl=-1',
    entry: ok,
    now: 61_001,
    stale: { reason: 'revalidate' },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('60', 'cachet; hit; ttl=-1; detail=stale-while-revalidate'),
    }),
    body: 'hello',
  },
  {
    name: 'exactly at the end of freshness: ttl=0 (never "-0")',
    entry: ok,
    now: 61_000,
    stale: { reason: 'revalidate' },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('60', 'cachet; hit; ttl=0; detail=stale-while-revalidate'),
    }),
    body: 'hello',
  },
  {
    name: 'a matching If-None-Match on a stale copy: 304 carrying X-Cache STALE',
    entry: ok,
    now: 63_500,
    ifNoneMatch: '"e1"',
    stale: { reason: 'revalidate' },
    status: 304,
    headers: notModified({
      etag: '"e1"',
      ...stale('62', 'cachet; hit; ttl=-3; detail=stale-while-revalidate'),
    }),
    body: undefined,
  },
  {
    name: 'a matching If-None-Match on a stale-if-error copy: 304, fwd-status kept',
    entry: ok,
    now: 71_000,
    ifNoneMatch: 'W/"e1"',
    stale: { reason: 'error', forwarded: true, originStatus: 502 },
    status: 304,
    headers: notModified({
      etag: '"e1"',
      ...stale('70', 'cachet; fwd=stale; fwd-status=502; ttl=-10; detail=stale-if-error'),
    }),
    body: undefined,
  },
  {
    name: 'HEAD on a stale copy: the headers, no body',
    entry: ok,
    now: 63_500,
    head: true,
    stale: { reason: 'revalidate' },
    status: 200,
    headers: full({
      'content-length': '5',
      etag: '"e1"',
      ...stale('62', 'cachet; hit; ttl=-3; detail=stale-while-revalidate'),
    }),
    body: undefined,
  },
]

describe('replay of a stale copy', () => {
  test.each(staleCases)('$name', (c) => {
    const r = replay(c.entry, c.now, cond(c), c.head ?? false, c.stale)
    expect(r.status).toBe(c.status)
    expect(asObject(r.headers)).toEqual(c.headers)
    expect(r.headers.length).toBe(Object.keys(c.headers).length * 2)
    expect(r.body?.toString()).toBe(c.body)
  })

  test('without `stale` the same entry past its ttl is a HIT with ttl=0 (the caller decides)', () => {
    const r = asObject(replay(ok, 63_500, undefined, false).headers)
    expect(r['x-cache']).toBe('HIT')
    expect(r['cache-status']).toBe('cachet; hit; ttl=0')
  })
})

describe('cacheStatusStale', () => {
  test.each<[Parameters<typeof cacheStatusStale>, string]>([
    [[-5, 'revalidate', false, undefined], 'cachet; hit; ttl=-5; detail=stale-while-revalidate'],
    [[-5, 'error', false, undefined], 'cachet; hit; ttl=-5; detail=stale-if-error'],
    [[-5, 'error', false, 503], 'cachet; hit; ttl=-5; detail=stale-if-error'],
    [[-5, 'error', true, undefined], 'cachet; fwd=stale; ttl=-5; detail=stale-if-error'],
    [[-5, 'error', true, 500], 'cachet; fwd=stale; fwd-status=500; ttl=-5; detail=stale-if-error'],
  ])('%j → %s', (args, expected) => expect(cacheStatusStale(...args)).toBe(expected))
})

describe('entries stored by the engine replay correctly', () => {
  test("a 200 gets a strong ETag from its body; the origin's own ETag is kept", async () => {
    const engine = new CacheEngine({
      rules: [
        { path: '/a', ttl: 60 },
        { path: '/b', ttl: 60 },
      ],
    })
    const origin = new FakeOrigin()
    await request(engine, origin, '/a', {
      respond: {
        headers: { 'content-type': 'text/plain', 'content-length': '5', date: 'x' },
        body: 'hello',
      },
    })
    await request(engine, origin, '/b', { respond: { headers: { etag: 'W/"mine"' }, body: 'b' } })
    const a = await lookup(engine, '/a')
    const b = await lookup(engine, '/b')
    if (a.type !== 'hit' || b.type !== 'hit') throw new Error('expected hits')
    expect(a.entry.etag).toBe(strongEtag(Buffer.from('hello')))
    // The origin's Date is kept (RFC 9110 §6.6.1); Content-Length is recomputed.
    expect(a.entry.headers).toEqual(['content-type', 'text/plain', 'date', 'x'])
    expect(b.entry.etag).toBe('W/"mine"')
    const r = replay(a.entry, Date.now(), { 'if-none-match': a.entry.etag }, false)
    expect(r.status).toBe(304)
    expect(origin.calls).toBe(2)
  })
})

describe('status headers', () => {
  test.each([
    [fillOutcome(undefined), ['MISS', CACHE_STATUS_MISS]],
    [fillOutcome('set-cookie'), ['BYPASS', 'cachet; fwd=miss; detail=set-cookie']],
    [fillOutcome(undefined, true), ['MISS', 'cachet; fwd=stale']],
    [fillOutcome('set-cookie', true), ['BYPASS', 'cachet; fwd=stale; detail=set-cookie']],
    [bypassOutcome('credentials'), ['BYPASS', 'cachet; fwd=bypass; detail=credentials']],
  ])('%j', (actual, expected) => expect(actual).toEqual(expected))

  test('Cache-Status never reveals the key', () => {
    expect(cacheStatusBypass('too-large', false)).not.toMatch(/key|v1:/)
  })
})
