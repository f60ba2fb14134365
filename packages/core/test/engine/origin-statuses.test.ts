import type { OutgoingHttpHeaders } from 'node:http'
import { CacheEngine } from '../../src/engine/engine'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin, request, thrown } from '../support'

// `statuses: 'any'` in an origin-driven rule: any final status but 206 and
// 304 is stored when its headers give it freshness (RFC 9111 §3), and
// `must-understand` (§5.2.2.3) stores only statuses this cache knows.

const rules: CacheRule[] = [
  { path: '/any/:id', ttl: 'origin', statuses: 'any' },
  { path: '/listed/:id', ttl: 'origin' },
]

async function twice(path: string, status: number, headers: OutgoingHttpHeaders) {
  const engine = new CacheEngine({ rules })
  const origin = new FakeOrigin()
  const respond = { status, headers }
  const first = await request(engine, origin, path, { respond })
  const second = await request(engine, origin, path, { respond })
  await engine.close()
  return { outcomes: [first.outcome, second.outcome], calls: origin.calls }
}

test.each([
  200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599,
])('a %i with max-age is stored and reused', async (status) => {
  expect(await twice('/any/1', status, { 'cache-control': 'max-age=3600' })).toEqual({
    outcomes: ['miss', 'hit'],
    calls: 1,
  })
})

test.each([405, 414, 501])(
  'a %i is heuristically cacheable: stored from its Last-Modified',
  async (status) => {
    const lastModified = new Date(Date.now() - 10 * 86_400_000).toUTCString()
    expect(await twice('/any/1', status, { 'last-modified': lastModified })).toEqual({
      outcomes: ['miss', 'hit'],
      calls: 1,
    })
  },
)

test('a 500 without freshness is not stored; nor is any status the rule does not list', async () => {
  expect(await twice('/any/1', 500, {})).toEqual({ outcomes: ['miss', 'miss'], calls: 2 })
  expect(await twice('/listed/1', 404, { 'cache-control': 'max-age=60' })).toEqual({
    outcomes: ['miss', 'miss'],
    calls: 2,
  })
})

test('must-understand: a known status is stored despite no-store, an unknown one never', async () => {
  const cc = { 'cache-control': 'must-understand, no-store, max-age=3600' }
  expect(await twice('/any/1', 200, cc)).toEqual({ outcomes: ['miss', 'hit'], calls: 1 })
  expect(await twice('/any/1', 599, cc)).toEqual({ outcomes: ['miss', 'miss'], calls: 2 })
})

test('a rule-driven rule keeps no-store’s veto under must-understand', async () => {
  const engine = new CacheEngine({ rules: [{ path: '/r/:id', ttl: 60 }] })
  const origin = new FakeOrigin()
  const respond = { headers: { 'cache-control': 'must-understand, no-store' } }
  await request(engine, origin, '/r/1', { respond })
  expect((await request(engine, origin, '/r/1', { respond })).outcome).toBe('miss')
  expect(origin.calls).toBe(2)
  await engine.close()
})

test("'any' is refused in a rule-driven rule, by name", () => {
  const e = thrown(() => new CacheEngine({ rules: [{ path: '/a', ttl: 60, statuses: 'any' }] }))
  expect(e.message).toContain(`option "statuses": 'any' only with ttl: 'origin'`)
})
