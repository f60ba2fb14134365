import type { OutgoingHttpHeaders } from 'node:http'
import { CacheEngine } from '../../src/engine/engine'
import { targetedDirectives } from '../../src/http/targeted'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin, lookup, request, thrown } from '../support'

// RFC 9213 targeted cache control in origin-driven rules: `CDN-Cache-Control`
// (or the rule's own list) decides in place of Cache-Control and Expires
// when it is a valid Structured Field Dictionary, and is ignored otherwise.

describe('targetedDirectives: a Structured Field Dictionary, or nothing', () => {
  const table: Array<[string, string | undefined]> = [
    ['max-age=3600', 'max-age=3600'],
    ['max-age=99999999999', 'max-age=99999999999'],
    ['foobar, max-age=3600', 'foobar, max-age=3600'],
    ['no-store', 'no-store'],
    ['private', 'private'],
    ['no-cache="set-cookie"', 'no-cache="set-cookie"'],
    ['max-age=60;x=1, stale-while-revalidate=30', 'max-age=60, stale-while-revalidate=30'],
    ['no-store=?0, max-age=5', 'max-age=5'],
    ['max-age=60,   s-maxage=10', 'max-age=60, s-maxage=10'],
    // Invalid: the whole field is ignored.
    ['max-age =100', undefined],
    ['max-age= 100', undefined],
    ['max-age="10000"', undefined],
    ['max-age=-1', undefined],
    ['max-age=1.5', undefined],
    ['max-age=10000, &&&&&', undefined],
    ['MaX-aGe=3600', undefined],
    ['max-age=60,', undefined],
    ['no-cache=field', undefined],
    ['max-age=?1', undefined],
    ['s-maxage', undefined],
    ['foo="a\\"b, no-store"', 'foo="a\\"b, no-store"'],
    ['', undefined],
  ]
  test.each(table)('%j → %j', (value, expected) => {
    expect(targetedDirectives(value)).toBe(expected)
  })

  test('several field lines are one dictionary', () => {
    expect(targetedDirectives(['max-age=60', 'stale-if-error=5'])).toBe(
      'max-age=60, stale-if-error=5',
    )
  })
})

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0)
let clock = NOW
beforeEach(() => {
  clock = NOW
  jest.spyOn(Date, 'now').mockImplementation(() => clock)
})
afterEach(() => jest.restoreAllMocks())
const http = (ms: number) => new Date(ms).toUTCString()

const rules: CacheRule[] = [
  { path: '/o/:id', ttl: 'origin' },
  { path: '/own/:id', ttl: 'origin', targeted: ['Cachet-Cache-Control', 'CDN-Cache-Control'] },
  { path: '/off/:id', ttl: 'origin', targeted: false },
  { path: '/swr/:id', ttl: 'origin' },
]

interface Case {
  name: string
  path?: string
  headers: OutgoingHttpHeaders
  /** Seconds after the fill when the copy is still a hit (or stale within its window), and the first when it is not. */
  hitAt?: number
  missAt: number
}

const cases: Case[] = [
  {
    name: 'CDN-Cache-Control alone',
    headers: { 'cdn-cache-control': 'max-age=60' },
    hitAt: 59,
    missAt: 60,
  },
  {
    name: 'a long CDN-Cache-Control wins over a short Cache-Control',
    headers: { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=3600' },
    hitAt: 3599,
    missAt: 3600,
  },
  {
    name: 'a short CDN-Cache-Control wins over a long Cache-Control',
    headers: { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=1' },
    missAt: 1,
  },
  {
    name: 'CDN-Cache-Control: max-age wins over Cache-Control: no-store',
    headers: { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=100' },
    hitAt: 99,
    missAt: 100,
  },
  {
    name: 'CDN-Cache-Control: no-store is not stored, whatever Cache-Control and Expires say',
    headers: {
      'cache-control': 'max-age=10000',
      'cdn-cache-control': 'no-store',
      date: http(NOW),
      expires: http(NOW + 10_000_000),
    },
    missAt: 0,
  },
  {
    name: 'CDN-Cache-Control: private is not reused',
    headers: { 'cache-control': 'max-age=10000', 'cdn-cache-control': 'private' },
    missAt: 0,
  },
  {
    name: 'CDN-Cache-Control: max-age=0 with a future Expires: stale at once',
    headers: { 'cdn-cache-control': 'max-age=0', date: http(NOW), expires: http(NOW + 10_000_000) },
    missAt: 0,
  },
  {
    name: 'a past Expires does not count beside a valid CDN-Cache-Control',
    headers: {
      'cdn-cache-control': 'max-age=3600',
      date: http(NOW),
      expires: http(NOW - 10_000_000),
    },
    hitAt: 3599,
    missAt: 3600,
  },
  {
    name: 'the Age the response had counts against CDN-Cache-Control: max-age',
    headers: { 'cdn-cache-control': 'max-age=3600', age: '7200', date: http(NOW) },
    missAt: 0,
  },
  {
    name: 'an invalid CDN-Cache-Control is ignored: Cache-Control decides',
    headers: { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age="10000"' },
    missAt: 0,
  },
  {
    name: 'a malformed CDN-Cache-Control is ignored: Cache-Control decides',
    headers: { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age =100' },
    missAt: 1,
  },
  {
    name: 'the rule’s own field comes first',
    path: '/own/1',
    headers: { 'cachet-cache-control': 'max-age=30', 'cdn-cache-control': 'max-age=3600' },
    hitAt: 29,
    missAt: 30,
  },
  {
    name: 'an invalid own field falls through to CDN-Cache-Control',
    path: '/own/1',
    headers: { 'cachet-cache-control': 'max-age=soon', 'cdn-cache-control': 'max-age=300' },
    hitAt: 299,
    missAt: 300,
  },
  {
    name: 'targeted: false reads Cache-Control alone',
    path: '/off/1',
    headers: { 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=3600' },
    hitAt: 9,
    missAt: 10,
  },
  {
    name: 'stale-while-revalidate from CDN-Cache-Control, not from Cache-Control',
    path: '/swr/1',
    headers: {
      'cache-control': 'max-age=10, stale-while-revalidate=1000',
      'cdn-cache-control': 'max-age=10, stale-while-revalidate=20',
    },
    hitAt: 29,
    missAt: 30,
  },
]

describe('origin-driven rules obey the targeted field', () => {
  test.each(cases)('$name', async (c) => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const path = c.path ?? '/o/1'
    const respond = { headers: c.headers }
    expect((await request(engine, origin, path, { respond })).outcome).toBe('miss')
    const start = clock
    if (c.hitAt !== undefined) {
      clock = start + c.hitAt * 1000
      expect(['hit', 'stale:revalidate']).toContain(
        (await request(engine, origin, path, { respond })).outcome,
      )
    }
    const before = origin.calls
    clock = start + c.missAt * 1000
    // Past the window a stale-while-revalidate refresh may have run: count from here.
    expect((await request(engine, origin, path, { respond })).outcome).toBe('miss')
    expect(origin.calls).toBe(before + 1)
    expect(before).toBeLessThanOrEqual(c.hitAt === undefined || c.path === '/swr/1' ? 2 : 1)
    await engine.close()
  })

  test('a field the targeted one qualifies (private="set-cookie") is not stored, as with Cache-Control', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const headers = {
      'set-cookie': 'sid=alice',
      'cdn-cache-control': 'max-age=60, private="set-cookie"',
    }
    expect((await request(engine, origin, '/o/3', { respond: { headers } })).outcome).toBe('miss')
    const hit = await lookup(engine, '/o/3')
    expect(hit.type).toBe('hit')
    const stored = hit.type === 'hit' ? hit.entry.headers : []
    expect(stored).not.toContain('set-cookie')
    expect(stored).not.toContain('sid=alice')
    expect(origin.calls).toBe(1)
    await engine.close()
  })

  test('the targeted field is forwarded as the origin sent it, on the miss and on hits', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const headers = { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=100' }
    await request(engine, origin, '/o/2', { respond: { headers } })
    const hit = await request(engine, origin, '/o/2')
    expect(hit.outcome).toBe('hit')
    expect(origin.calls).toBe(1)
    await engine.close()
  })

  test.each([
    [
      { path: '/a', ttl: 60, targeted: ['CDN-Cache-Control'] },
      "only a rule with ttl: 'origin' reads targeted fields",
    ],
    [
      { path: '/a', ttl: 'origin', targeted: [] },
      'option "targeted": expected false, a header name or a list',
    ],
    [{ path: '/a', ttl: 'origin', targeted: ['CDN Cache'] }, '"CDN Cache" is not a header name'],
    [
      { path: '/a', ttl: 'origin', targeted: 'Cache-Control' },
      'Cache-Control is what targeted fields take precedence over',
    ],
  ])('%j is refused by name', (rule, message) => {
    const e = thrown(() => new CacheEngine({ rules: [rule as CacheRule] }))
    expect(e.message).toContain(message)
  })
})
