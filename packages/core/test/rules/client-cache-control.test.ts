import { replay } from '../../src/engine/replay'
import { CachetConfigError } from '../../src/errors'
import { checkDefaults } from '../../src/rules/compile-rule'
import { RuleSet } from '../../src/rules/rule-set'
import type { CacheRule, CompiledCacheRule } from '../../src/rules/types'
import { makeEntry, thrown } from '../support'

// The `cacheControl` rule option: what a browser or CDN after the cache may
// keep. Validation (one error naming the rule, the option and the bad value),
// compilation to one header value, defaults, and the replay of a hit.

function compiled(rule: Partial<CacheRule>, defaults = {}): CompiledCacheRule {
  const r = new RuleSet([{ path: '/a', ttl: 60, ...rule }], checkDefaults(defaults)).rules[0]
  if (r?.kind !== 'cache') throw new Error('expected a cache rule')
  return r
}

describe('cacheControl compiles to one Cache-Control value', () => {
  test.each<[string, CacheRule['cacheControl'], string]>([
    ['a string, kept as written', 'public, max-age=60', 'public, max-age=60'],
    ['a string, trimmed', '  no-cache ', 'no-cache'],
    [
      'a string with a quoted field list',
      'private="x-user", max-age=5',
      'private="x-user", max-age=5',
    ],
    ['maxAge as a duration string', { maxAge: '1m' }, 'max-age=60'],
    ['maxAge in seconds', { maxAge: 30 }, 'max-age=30'],
    ['maxAge 0', { maxAge: 0 }, 'max-age=0'],
    [
      'every directive, in a fixed order',
      {
        immutable: true,
        staleIfError: '1d',
        staleWhileRevalidate: '30s',
        sMaxAge: '5m',
        maxAge: '1m',
        public: true,
        mustRevalidate: true,
      },
      'public, max-age=60, s-maxage=300, must-revalidate, stale-while-revalidate=30, stale-if-error=86400, immutable',
    ],
    ['private', { private: true, maxAge: '10s' }, 'private, max-age=10'],
    ['noStore alone', { noStore: true }, 'no-store'],
    ['noCache alone', { noCache: true }, 'no-cache'],
    ['false flags say nothing', { maxAge: 5, public: false, immutable: false }, 'max-age=5'],
  ])('%s', (_name, cacheControl, expected) => {
    expect(compiled({ cacheControl }).cacheControl).toBe(expected)
  })

  test('not set: nothing (the route’s own header goes out, as before)', () => {
    expect(compiled({}).cacheControl).toBeUndefined()
  })

  test('a per-user rule may send private or no-store', () => {
    expect(compiled({ perUser: true, cacheControl: 'private, max-age=60' }).cacheControl).toBe(
      'private, max-age=60',
    )
    expect(compiled({ perUser: true, cacheControl: { noStore: true } }).cacheControl).toBe(
      'no-store',
    )
  })
})

describe('cacheControl in defaults', () => {
  test('every rule with a ttl of its own takes it; its own value wins', () => {
    const defaults = { cacheControl: 'public, max-age=60' as const }
    expect(compiled({}, defaults).cacheControl).toBe('public, max-age=60')
    expect(compiled({ cacheControl: { noStore: true } }, defaults).cacheControl).toBe('no-store')
  })

  test('origin-driven rules keep the origin’s header (a default does not apply to them)', () => {
    const r = compiled({ ttl: 'origin' }, { cacheControl: 'public, max-age=60' })
    expect(r.origin).toBe(true)
    expect(r.cacheControl).toBeUndefined()
  })

  test('is checked as a rule’s option, naming defaults.cacheControl', () => {
    const err = thrown(() => checkDefaults({ cacheControl: { maxAge: 'soon' } }))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    expect(err.message).toMatch(/^option "defaults\.cacheControl\.maxAge": expected seconds/)
    expect(err.message).toContain('got "soon"')
  })

  test('alongside a default ttl of origin, still checked (for the rules with a ttl of their own)', () => {
    expect(() => checkDefaults({ ttl: 'origin', cacheControl: 'max-age=60' })).not.toThrow()
    const err = thrown(() => checkDefaults({ ttl: 'origin', cacheControl: 'max-age=soon' }))
    expect(err.message).toMatch(/^option "defaults\.cacheControl": /)
  })

  test('a default public value on a per-user rule is refused, naming the rule', () => {
    const err = thrown(
      () =>
        new RuleSet(
          [{ path: '/me', ttl: 60, perUser: true }],
          checkDefaults({ cacheControl: 'public, max-age=60' }),
        ),
    )
    expect(err.message).toMatch(/^rules\[0\] \(\/me\): option "cacheControl": /)
    expect(err.message).toMatch(/per-user/)
  })
})

describe('cacheControl validation', () => {
  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a number', { cacheControl: 60 }, 'cacheControl', /expected a Cache-Control value .* got 60/],
    ['null', { cacheControl: null }, 'cacheControl', /got null/],
    ['an array', { cacheControl: ['public'] }, 'cacheControl', /got an array of 1/],
    ['an empty string', { cacheControl: ' ' }, 'cacheControl', /expected at least one directive/],
    [
      'a line break (header injection)',
      { cacheControl: 'max-age=60\r\nSet-Cookie: a=b' },
      'cacheControl',
      /not a Cache-Control value/,
    ],
    [
      'a malformed list',
      { cacheControl: 'public,, max-age=60 x' },
      'cacheControl',
      /not a Cache-Control value .*"public,, max-age=60 x"/,
    ],
    [
      'a misspelt directive',
      { cacheControl: 'public, max_age=60' },
      'cacheControl',
      /unknown directive "max_age"/,
    ],
    [
      'max-age without seconds',
      { cacheControl: 'max-age=1m' },
      'cacheControl',
      /"max-age" takes whole seconds \(max-age=60\), got "max-age=1m"/,
    ],
    [
      'a flag with a value',
      { cacheControl: 'immutable=1' },
      'cacheControl',
      /"immutable" takes no value, got "immutable=1"/,
    ],
    [
      'public and private',
      { cacheControl: 'public, private, max-age=1' },
      'cacheControl',
      /both public and private/,
    ],
    [
      'an empty object',
      { cacheControl: {} },
      'cacheControl',
      /expected maxAge, sMaxAge, noCache or noStore/,
    ],
    [
      'a bad duration',
      { cacheControl: { maxAge: -1 } },
      'cacheControl.maxAge',
      /expected a duration of 0 seconds or more, got -1/,
    ],
    [
      'a duration that is not whole seconds',
      { cacheControl: { maxAge: '1500ms' } },
      'cacheControl.maxAge',
      /whole seconds, got "1500ms"/,
    ],
    [
      'a flag that is not a boolean',
      { cacheControl: { maxAge: 5, public: 'yes' } },
      'cacheControl.public',
      /expected true or false, got "yes"/,
    ],
    [
      'public and private (object)',
      { cacheControl: { maxAge: 5, public: true, private: true } },
      'cacheControl',
      /both public and private/,
    ],
    [
      'noStore with a lifetime',
      { cacheControl: { noStore: true, maxAge: 5 } },
      'cacheControl.noStore',
      /no-store response is kept nowhere: leave out maxAge/,
    ],
    [
      'private with sMaxAge',
      { cacheControl: { private: true, maxAge: 5, sMaxAge: 60 } },
      'cacheControl.sMaxAge',
      /for shared caches, which a private response never reaches/,
    ],
    [
      'public on a per-user rule',
      { perUser: true, cacheControl: { public: true, maxAge: 60 } },
      'cacheControl',
      /a per-user rule's responses are one user's: .*private or no-store.*got "public, max-age=60"/,
    ],
    [
      'neither private nor no-store on a per-user rule',
      { perUser: true, cacheControl: 'max-age=60' },
      'cacheControl',
      /per-user/,
    ],
    [
      "with ttl: 'origin'",
      { ttl: 'origin', cacheControl: 'public, max-age=60' },
      'cacheControl',
      /ttl: 'origin'.*the origin's Cache-Control/,
    ],
  ])('%s', (_name, rule, option, expected) => {
    const err = thrown(() => new RuleSet([{ path: '/a', ttl: 60, ...rule } as CacheRule]))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_RULE')
    expect(err.message.startsWith(`rules[0] (/a): option "${option}": `)).toBe(true)
    expect(err.message).toMatch(expected)
  })

  test('an unknown field of the object, with the one meant', () => {
    const err = thrown(
      () =>
        new RuleSet([{ path: '/a', ttl: 60, cacheControl: { maxAge: 5, sMaxage: 5 } as never }]),
    )
    expect(err.message).toBe(
      'rules[0] (/a): unknown option "cacheControl.sMaxage" (did you mean "cacheControl.sMaxAge"?)',
    )
  })

  test('a write rule has no cacheControl', () => {
    const err = thrown(
      () => new RuleSet([{ path: '/a', invalidates: ['a'], cacheControl: 'no-store' }]),
    )
    expect(err.message).toMatch(
      /^rules\[0\] \(\/a\): option "cacheControl": not an option of a write rule/,
    )
  })
})

describe('replay with a rule’s cacheControl', () => {
  const entry = makeEntry({
    headers: [
      'content-type',
      'text/plain',
      'cache-control',
      'no-cache',
      'expires',
      '0',
      'cache-control',
      'x',
    ],
    body: Buffer.from('hello'),
    etag: '"e"',
    cachedAt: 0,
    staleAt: 60_000,
  })

  const cacheControl = (headers: string[]) =>
    headers.flatMap((h, i) =>
      i % 2 === 0 && (h === 'cache-control' || h === 'expires') ? [`${h}: ${headers[i + 1]}`] : [],
    )

  test('replaces the stored Cache-Control and Expires, and keeps Age as it is', () => {
    const r = replay(entry, 30_000, undefined, false, undefined, {
      cacheControl: 'public, max-age=60',
    })
    expect(cacheControl(r.headers)).toEqual(['cache-control: public, max-age=60'])
    expect(r.headers).toEqual(expect.arrayContaining(['age', '30', 'content-type', 'text/plain']))
  })

  test('on a 304, and on a stale copy', () => {
    const notModified = replay(entry, 1, { 'if-none-match': '"e"' }, false, undefined, {
      cacheControl: 'max-age=5',
    })
    expect(notModified.status).toBe(304)
    expect(cacheControl(notModified.headers)).toEqual(['cache-control: max-age=5'])
    const stale = replay(
      entry,
      70_000,
      undefined,
      true,
      { reason: 'revalidate' },
      { cacheControl: 'max-age=5' },
    )
    expect(stale.body).toBeUndefined()
    expect(cacheControl(stale.headers)).toEqual(['cache-control: max-age=5'])
  })

  test('without one, the stored headers go out as stored', () => {
    const r = replay(entry, 30_000, undefined, false)
    expect(cacheControl(r.headers)).toEqual([
      'cache-control: no-cache',
      'expires: 0',
      'cache-control: x',
    ])
  })
})
