import type { IncomingHttpHeaders } from 'node:http'
import fc from 'fast-check'
import { CacheEngine } from '../../src/engine/engine'
import { primaryKeyOf, VARIANT_SEPARATOR, variantKey, varyNames } from '../../src/engine/variants'
import type { CacheRule } from '../../src/rules/types'
import { cacheRule, FakeOrigin, finish, lookup, request } from '../support'

// RFC 9111 §4.1: an origin-driven rule stores the variants a response's Vary
// names apart, and a request is answered only by the variant its own headers
// select. Each case counts the origin's calls.

const rules: CacheRule[] = [
  { name: 'o', path: '/o/:id', ttl: 'origin', passHeaders: ['accept-language'] },
  { name: 'keyed', path: '/k/:id', ttl: 'origin', key: { headers: ['accept-language'] } },
  { name: 'r', path: '/r/:id', ttl: 60, passHeaders: ['accept-language'] },
]
const VARY = { headers: { 'cache-control': 'max-age=60', vary: 'Accept-Language' } }
const lang = (value?: string) => ({
  headers: value === undefined ? {} : { 'accept-language': value },
  respond: VARY,
})

describe('varyNames (RFC 9110 §12.5.5)', () => {
  const rule = cacheRule({ ttl: 'origin', key: { headers: ['accept-encoding'] } })
  test.each([
    [undefined, []],
    ['', []],
    ['Accept-Language', ['accept-language']],
    ['Accept-Language, accept-language,X-A', ['accept-language', 'x-a']],
    ['x-b, X-A', ['x-a', 'x-b']],
    ['Accept-Encoding', []],
    ['accept-language, *', '*'],
    [
      ['x-a', 'x-b'],
      ['x-a', 'x-b'],
    ],
  ] as const)('%j: %j', (vary, expected) => {
    expect(varyNames(rule, vary as string | undefined)).toEqual(expected)
  })
})

describe('variantKey', () => {
  test('normalised as keyed headers are: spacing and several lines are one value', () => {
    const k = (v: string | string[]) =>
      variantKey('K', ['accept-language'], { 'accept-language': v } as IncomingHttpHeaders)
    expect(k('fr ,  en')).toBe(k('fr, en'))
    expect(k(['fr', 'en'])).toBe(k('fr, en'))
    expect(k('fr')).not.toBe(k('en'))
  })

  test('an absent header is its own value, apart from an empty one', () => {
    const absent = variantKey('K', ['x-a'], {})
    const empty = variantKey('K', ['x-a'], { 'x-a': '' })
    expect(absent).not.toBe(empty)
  })

  test('property: different names or values never share a key; the URI key is recoverable', () => {
    const values = fc.dictionary(
      fc.constantFrom('x-a', 'x-b', 'x-c'),
      fc.string({ maxLength: 6 }).filter((v) => v.trim() === v && !/[\s,]/.test(v)),
    )
    fc.assert(
      fc.property(values, values, (a, b) => {
        const names = ['x-a', 'x-b', 'x-c']
        const ka = variantKey('K', names, a)
        const kb = variantKey('K', names, b)
        const same = names.every((n) => a[n] === b[n])
        return (ka === kb) === same && primaryKeyOf(ka) === 'K'
      }),
    )
    expect(primaryKeyOf(`a${VARIANT_SEPARATOR}b`)).toBe('a')
  })
})

describe('ttl: origin, Vary-selected variants (RFC 9111 §4.1)', () => {
  test('each Accept-Language value is its own variant; each is served only to requests that select it', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const fr1 = await request(engine, origin, '/o/1', lang('fr'))
    const en1 = await request(engine, origin, '/o/1', lang('en'))
    const none = await request(engine, origin, '/o/1', lang())
    expect([fr1.outcome, en1.outcome, none.outcome]).toEqual(['miss', 'miss', 'miss'])
    const fr2 = await request(engine, origin, '/o/1', lang('fr'))
    const en2 = await request(engine, origin, '/o/1', lang('en'))
    const none2 = await request(engine, origin, '/o/1', lang())
    expect([fr2, en2, none2]).toEqual([
      { outcome: 'hit', body: 'v1' },
      { outcome: 'hit', body: 'v2' },
      { outcome: 'hit', body: 'v3' },
    ])
    expect(origin.calls).toBe(3)
    await engine.close()
  })

  test('a response that stops varying is stored at the URI: one copy for every request', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/o/2', lang('fr'))
    engine.clear()
    await request(engine, origin, '/o/2', lang('fr'))
    await request(engine, origin, '/o/2', {
      headers: { 'accept-language': 'de' },
      respond: { headers: { 'cache-control': 'max-age=60' } },
    })
    // de's response did not vary: it replaced the index, and answers everyone.
    expect(await request(engine, origin, '/o/2', lang('fr'))).toEqual({
      outcome: 'hit',
      body: 'v3',
    })
    expect(await request(engine, origin, '/o/2', lang())).toEqual({ outcome: 'hit', body: 'v3' })
    expect(origin.calls).toBe(3)
    await engine.close()
  })

  test('Vary: * is never stored', async () => {
    const engine = new CacheEngine({ rules })
    const events: string[] = []
    engine.on('bypass', (e: { reason: string }) => events.push(e.reason))
    const origin = new FakeOrigin()
    const star = { respond: { headers: { 'cache-control': 'max-age=60', vary: '*' } } }
    await request(engine, origin, '/o/3', star)
    expect((await request(engine, origin, '/o/3', star)).outcome).toBe('miss')
    expect(events).toEqual(['vary', 'vary'])
    expect(origin.calls).toBe(2)
    await engine.close()
  })

  test('a keyed header in Vary is the key already: no index', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/k/1', lang('fr'))
    expect(engine.l1?.size).toBe(1)
    expect(await request(engine, origin, '/k/1', lang('fr'))).toEqual({
      outcome: 'hit',
      body: 'v1',
    })
    await engine.close()
  })

  test('rule-driven rules still refuse a Vary on a header they do not key', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/r/1', lang('fr'))
    expect((await request(engine, origin, '/r/1', lang('fr'))).outcome).toBe('miss')
    expect(origin.calls).toBe(2)
    await engine.close()
  })

  test('an invalidation of the URI reaches every variant', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    for (const l of ['fr', 'en']) await request(engine, origin, '/o/4', lang(l))
    await engine.invalidate({ pattern: '/o/4' })
    for (const l of ['fr', 'en'])
      expect((await request(engine, origin, '/o/4', lang(l))).outcome).toBe('miss')
    expect(origin.calls).toBe(4)
    await engine.close()
  })

  test('concurrent cold requests for two variants: one origin call each', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    const values = ['fr', 'en', 'fr', 'en', 'fr', 'en']
    const lookups = values.map((l) => lookup(engine, '/o/5', lang(l)))
    // The first leads; its response varies; the others look up again by the
    // index and lead or wait on their own variant.
    const leader = await lookups[0]
    if (leader?.type !== 'miss') throw new Error('expected the first to lead')
    origin.serve(leader.fill, VARY)
    // Each answered as it resolves, as adapters do: a new leader's fill ends
    // while its own waiters wait.
    const outcomes = await Promise.all(
      lookups.slice(1).map(async (l) => finish(await l, origin, VARY)),
    )
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['hit', 'hit', 'hit', 'hit', 'miss'])
    expect(origin.calls).toBe(2)
    const en = await request(engine, origin, '/o/5', lang('en'))
    expect(en.outcome).toBe('hit')
    expect(origin.calls).toBe(2)
    await engine.close()
  })
})
