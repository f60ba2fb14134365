import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError } from '../../src/errors'
import { defaultIgnoredCookies } from '../../src/rules/compile-rule'
import { buildKey, forwardedKeyValue } from '../../src/rules/key'
import { requestBypassReason } from '../../src/rules/request-filter'
import { narrowRequest } from '../../src/rules/request-view'
import type { CacheRule, CompiledCacheRule } from '../../src/rules/types'
import { thrown } from '../support'

// `proxy`, `defaults` and `ignoreCookies`: validated up front with the
// messages of a rule's own options, compiled into every cache rule.

function compiled(options: Record<string, unknown>, index = 0): CompiledCacheRule {
  const engine = new CacheEngine({ rules: [{ path: '/r', ttl: 60 }], ...options })
  return engine.rules.rules[index] as CompiledCacheRule
}

describe('defaults take every rule option that makes sense as a default', () => {
  test('each is applied to a rule that does not set it', () => {
    const rule = compiled({
      defaults: {
        key: { query: ['lang'], headers: ['Accept-Language'] },
        passHeaders: ['x-request-id'],
        allowCredentials: true,
        staleWhileRevalidate: '30s',
        staleIfError: '1h',
        statuses: [200, 404],
        compress: true,
        ignoreCookies: ['consent'],
      },
    })
    expect(rule.key).toEqual({ query: ['lang'], headers: ['accept-language'] })
    expect(rule.passHeaders).toEqual(['x-request-id'])
    expect(rule.allowCredentials).toBe(true)
    expect(rule.staleWhileRevalidateMs).toBe(30_000)
    expect(rule.staleIfErrorMs).toBe(3_600_000)
    expect([...rule.statuses]).toEqual([200, 404])
    expect(rule.compress).toBe(true)
    expect(rule.ignoresCookie('consent')).toBe(true)
    expect(rule.ignoresCookie('_ga')).toBe(false)
  })

  test("a rule's own value wins; key merges field by field", () => {
    const engine = new CacheEngine({
      rules: [{ path: '/r', ttl: 60, key: { query: 'none' }, staleWhileRevalidate: 0 }],
      defaults: { key: { headers: ['accept-language'] }, staleWhileRevalidate: '30s' },
    })
    const rule = engine.rules.rules[0] as CompiledCacheRule
    expect(rule.key).toEqual({ query: 'none', headers: ['accept-language'] })
    expect(rule.staleWhileRevalidateMs).toBe(0)
  })

  test("ttl 'origin' and maxTtl as defaults; maxTtl only for origin-driven rules", () => {
    const engine = new CacheEngine({
      rules: [{ path: '/a' }, { path: '/b', ttl: 60 }],
      defaults: { ttl: 'origin', maxTtl: '1h' },
    })
    const [a, b] = engine.rules.rules as CompiledCacheRule[]
    expect(a?.origin).toBe(true)
    expect(a?.ttlMs).toBe(3_600_000)
    expect(b?.origin).toBe(false)
    expect(b?.ttlMs).toBe(60_000)
  })

  test('refreshAhead and ttlJitter as defaults, only for rules with a ttl of their own', () => {
    const engine = new CacheEngine({
      rules: [{ path: '/a', ttl: 'origin' }, { path: '/b' }],
      defaults: { ttl: 60, refreshAhead: 0.8, ttlJitter: 0.2 },
    })
    const [a, b] = engine.rules.rules as CompiledCacheRule[]
    expect([a?.refreshAhead, a?.ttlJitter]).toEqual([0, 0])
    expect([b?.refreshAhead, b?.ttlJitter]).toEqual([0.8, 0.2])
  })

  test('write rules take none of them', () => {
    const engine = new CacheEngine({
      rules: [{ path: '/r', methods: ['PUT'], invalidates: ['t'] }],
      defaults: { ttl: 60, passHeaders: ['x-a'] },
    })
    expect(engine.rules.rules[0]?.kind).toBe('invalidate')
  })

  test.each<[string, Record<string, unknown>, string, RegExp]>([
    [
      'a typo',
      { tll: 60 },
      'defaults.tll',
      /^unknown option "defaults.tll" \(did you mean "defaults.ttl"\?\)$/,
    ],
    [
      'a rule-only option',
      { tags: ['x'] },
      'defaults.tags',
      /an option of each rule, not a default/,
    ],
    [
      'a nested typo',
      { key: { qurey: ['a'] } },
      'defaults.key.qurey',
      /^unknown option "defaults.key.qurey" \(did you mean "defaults.key.query"\?\)$/,
    ],
    [
      'a bad stale window',
      { staleWhileRevalidate: 'soon' },
      'defaults.staleWhileRevalidate',
      /got "soon"/,
    ],
    ['a bad pass header', { passHeaders: ['a b'] }, 'defaults.passHeaders', /is not a header name/],
    [
      'allowCredentials not a boolean',
      { allowCredentials: 'yes' },
      'defaults.allowCredentials',
      /expected true or false/,
    ],
    ['maxTtl 0', { maxTtl: 0 }, 'defaults.maxTtl', /expected more than 0 seconds/],
    ['ttl 0', { ttl: 0 }, 'defaults.ttl', /expected more than 0 seconds/],
    [
      'a bare * in ignoreCookies',
      { ignoreCookies: ['*'] },
      'defaults.ignoreCookies',
      /allowCredentials/,
    ],
    ['a * inside a name', { ignoreCookies: ['_g*a'] }, 'defaults.ignoreCookies', /only at the end/],
  ])('%s is an error naming defaults and the option', (_name, defaults, option, problem) => {
    const own: CacheRule[] = [{ path: '/a', ttl: 60 }]
    const err = thrown(() => new CacheEngine({ rules: own, defaults }))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    // An unknown option's message names it first: `unknown option "defaults.tll" (...)`.
    const named = err.message.startsWith(`option "${option}": `)
    expect(named || err.message.startsWith(`unknown option "${option}" (`)).toBe(true)
    expect(err.message).toMatch(problem)
  })
})

describe('proxy', () => {
  test.each<[string, unknown, string, RegExp]>([
    ['not an object', true, 'proxy', /expected an object/],
    [
      'a typo',
      { trsuted: true },
      'proxy.trsuted',
      /unknown option \(expected one of trusted, headers\)/,
    ],
    [
      'trusted not a boolean',
      { trusted: 'yes' },
      'proxy.trusted',
      /expected true or false, got "yes"/,
    ],
    [
      'headers without trusted',
      { headers: ['x-forwarded-proto'] },
      'proxy.headers',
      /trusted: true/,
    ],
    [
      'a credentials header',
      { trusted: true, headers: ['Cookie'] },
      'proxy.headers',
      /"cookie" is not a forwarding header/,
    ],
    [
      'a transport header',
      { trusted: true, headers: ['host'] },
      'proxy.headers',
      /"host" is not a forwarding header/,
    ],
    [
      'not a header name',
      { trusted: true, headers: ['x y'] },
      'proxy.headers',
      /not a header name/,
    ],
  ])('%s is an error', (_name, proxy, option, problem) => {
    const err = thrown(() => new CacheEngine({ rules: [{ path: '/a', ttl: 60 }], proxy }))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.message.startsWith(`option "${option}": `)).toBe(true)
    expect(err.message).toMatch(problem)
  })

  test('trusted: client-address headers are passed, the others keyed; untrusted: neither', () => {
    const trusted = compiled({ proxy: { trusted: true } })
    expect(trusted.proxyKey).toEqual([
      'forwarded',
      'x-forwarded-host',
      'x-forwarded-port',
      'x-forwarded-prefix',
      'x-forwarded-proto',
    ])
    expect(trusted.viewHeaders.has('x-forwarded-for')).toBe(true)
    expect(trusted.viewHeaders.has('x-real-ip')).toBe(true)
    expect(trusted.key.headers).toEqual([])
    const plain = compiled({ proxy: { trusted: false } })
    expect(plain.proxyKey).toEqual([])
    expect(plain.viewHeaders.has('x-forwarded-for')).toBe(false)
  })

  test('keys: the forwarded headers are a component; the client address is not', () => {
    const rule = compiled({ proxy: { trusted: true } })
    const key = (headers: Record<string, string>) =>
      buildKey('ns', rule, { path: '/r', rawQuery: '', headers, user: undefined })
    const base = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '192.0.2.1' }
    expect(key(base)).toBe(key({ ...base, 'x-forwarded-for': '198.51.100.2' }))
    expect(key(base)).not.toBe(key({ ...base, 'x-forwarded-proto': 'http' }))
    expect(key(base)).not.toBe(key({ ...base, 'x-forwarded-host': 'evil.example' }))
    expect(key({ forwarded: 'for=1.2.3.4;proto=https' })).toBe(
      key({ forwarded: 'For="[2001:db8::1]:80" ; proto=https' }),
    )
    // Without a trusted proxy, keys are as they always were.
    const plain = compiled({})
    expect(
      buildKey('ns', plain, { path: '/r', rawQuery: '', headers: base, user: undefined }),
    ).toBe('ns:v2:11:GET,HEAD /r2:/r#0;#0;!')
  })

  test.each<[string, string]>([
    ['for=1.2.3.4', ''],
    ['for=1.2.3.4;proto=https', 'proto=https'],
    ['proto=https;FOR=1.2.3.4;host=a', 'proto=https;host=a'],
    ['for=1.2.3.4;proto=https, for=5.6.7.8;by=10.0.0.1', 'proto=https, by=10.0.0.1'],
    ['for="a;proto=http";host=x', 'host=x'],
    // Separators in a quoted string are its own (spaced after commas, as every keyed value).
    ['host="a,b";for=1', 'host="a, b"'],
    // Malformed (an unbalanced quote): keyed whole, for= and all.
    ['for="a;proto=https', 'for="a;proto=https'],
  ])('forwardedKeyValue(%j) is %j', (value, expected) => {
    expect(forwardedKeyValue(value)).toBe(expected)
  })
})

describe('ignoreCookies', () => {
  const rule = compiled({})
  const reason = (cookie: string) => requestBypassReason(rule, { cookie }, undefined)

  test('the default list: analytics and marketing cookies, prefixes by a trailing *', () => {
    expect(defaultIgnoredCookies).toContain('_ga')
    expect(defaultIgnoredCookies).toContain('_ga_*')
    for (const name of [
      '_ga',
      '_ga_XYZ',
      '_gid',
      '_gat',
      '_gat_UA-1',
      '__utma',
      '_fbp',
      '_fbc',
      '_hjSession_1',
      '_gcl_au',
    ]) {
      expect([name, rule.ignoresCookie(name)]).toEqual([name, true])
    }
    for (const name of ['session', 'sid', '_gateway', '_gax', 'connect.sid', '_csrf', '']) {
      expect([name, rule.ignoresCookie(name)]).toEqual([name, false])
    }
  })

  test('only ignored cookies: no bypass; any other: credentials', () => {
    expect(reason('_ga=1; _gid=2')).toBeUndefined()
    // An empty header holds no ignored cookie: it stays what it always was.
    expect(reason('')).toBe('credentials')
    expect(reason('_ga=1; sid=2')).toBe('credentials')
    expect(reason('sid')).toBe('credentials')
    expect(requestBypassReason(rule, { cookie: '_ga=1', authorization: 'x' }, undefined)).toBe(
      'credentials',
    )
  })

  test('the view of a miss: ignored cookies removed from headers and rawHeaders', () => {
    const open = compiled({ defaults: { allowCredentials: true } })
    const headers = { cookie: '_ga=1; sid=2;_gid=3' }
    const raw = ['Cookie', '_ga=1; sid=2;_gid=3', 'Host', 'h']
    narrowRequest(open, '', headers, raw)
    expect(headers.cookie).toBe('sid=2')
    expect(raw).toEqual(['Host', 'h', 'Cookie', 'sid=2'])
    const only = { cookie: '_ga=1' } as Record<string, string>
    const raw2 = ['cookie', '_ga=1']
    narrowRequest(open, '', only, raw2)
    expect(only.cookie).toBeUndefined()
    expect(raw2).toEqual([])
  })
})
