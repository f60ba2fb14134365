import type { IncomingHttpHeaders } from 'node:http'
import { parse as parseQuerystring } from 'node:querystring'
import fc from 'fast-check'
import { normalizeHeaderValue, queryComponent } from '../../src/rules/key'
import { type RequestBypassReason, requestBypassReason } from '../../src/rules/request-filter'
import {
  FORWARDING_HEADERS,
  METHOD_OVERRIDE_HEADERS,
  narrowRequest,
  viewQuery,
} from '../../src/rules/request-view'
import { RuleSet } from '../../src/rules/rule-set'
import type { CacheRule } from '../../src/rules/types'
import { cacheRule } from '../support'

// The key view equals the app view: what a fill's route is given is exactly
// what the key holds, so an unkeyed input can never shape a stored response.

describe('viewQuery: the query a fill route sees', () => {
  const cases: Array<{
    name: string
    spec: 'all' | 'none' | string[]
    raw: string
    expected: string | undefined
  }> = [
    { name: 'all: unchanged', spec: 'all', raw: 'b=1&a=2', expected: undefined },
    { name: 'none: emptied', spec: 'none', raw: 'a=1', expected: '' },
    { name: 'none, no query: unchanged', spec: 'none', raw: '', expected: undefined },
    { name: 'listed only: unchanged', spec: ['lang'], raw: 'lang=fr', expected: undefined },
    { name: 'unlisted dropped', spec: ['lang'], raw: 'lang=fr&utm=x', expected: 'lang=fr' },
    {
      name: 'order and spelling kept',
      spec: ['a', 'b'],
      raw: 'b=%41&x=1&a=+',
      expected: 'b=%41&a=+',
    },
    {
      name: 'repeats of a listed name kept',
      spec: ['lang'],
      raw: 'lang=fr&lang=en&x=1',
      expected: 'lang=fr&lang=en',
    },
    {
      name: "qs's bracket form is another name",
      spec: ['lang'],
      raw: 'lang[0]=en&lang=fr',
      expected: 'lang=fr',
    },
    {
      name: 'an encoded name is its decoded name',
      spec: ['lang'],
      raw: 'l%61ng=fr&x=1',
      expected: 'l%61ng=fr',
    },
    { name: 'a name with + is a space', spec: ['a b'], raw: 'a+b=1&ab=2', expected: 'a+b=1' },
    {
      name: 'semicolons are no delimiter',
      spec: ['lang'],
      raw: 'lang=fr;utm=x&utm=y',
      expected: 'lang=fr;utm=x',
    },
    { name: 'nothing listed present', spec: ['lang'], raw: 'utm=x', expected: '' },
    { name: 'empty parts dropped', spec: ['lang'], raw: 'lang=fr&&', expected: 'lang=fr' },
  ]
  it.each(cases)('$name', ({ spec, raw, expected }) => {
    expect(viewQuery(spec, raw)).toBe(expected)
  })

  it('the key of the narrowed query is the key of the original (fast-check)', () => {
    const part = fc.oneof(
      fc.constantFrom('lang', 'page', 'utm', 'lang[0]', 'l%61ng', 'a+b', '_x', '%', '?lang'),
      fc.string({ maxLength: 6 }),
    )
    const pair = fc.tuple(part, fc.string({ maxLength: 6 })).map(([n, v]) => `${n}=${v}`)
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 8 }), (pairs) => {
        const raw = pairs.join('&')
        for (const spec of [['lang'], ['a b', 'page'], 'none'] as const) {
          const view = viewQuery(spec as 'none' | string[], raw) ?? raw
          expect(queryComponent(spec as 'none' | string[], view)).toBe(
            queryComponent(spec as 'none' | string[], raw),
          )
        }
      }),
    )
  })

  it("what node:querystring (Express 5's and Koa's parser) reads from the view is what the key holds", () => {
    const name = fc.constantFrom('lang', 'page', 'utm', 'lang[]', 'l%61ng', 'x')
    const value = fc.stringMatching(/^[a-z0-9%+]{0,5}$/)
    const pair = fc.tuple(name, value).map(([n, v]) => `${n}=${v}`)
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 8 }), (pairs) => {
        const raw = pairs.join('&')
        const view = viewQuery(['lang'], raw) ?? raw
        const seen = parseQuerystring(view)
        // Every name the route sees is a keyed one, with the key's values.
        expect(Object.keys(seen).every((n) => n === 'lang')).toBe(true)
        const keyed = new URLSearchParams(raw).getAll('lang')
        const lang = seen.lang
        expect(lang === undefined ? [] : Array.isArray(lang) ? lang : [lang]).toEqual(keyed)
      }),
    )
  })
})

describe('narrowRequest: the headers a fill route sees', () => {
  const rules = (extra: Partial<CacheRule>) => cacheRule({ path: '/r', ttl: 60, ...extra })

  const cases: Array<{ name: string; rule: Partial<CacheRule>; kept: string[] }> = [
    { name: 'transport headers only by default', rule: {}, kept: ['accept-encoding', 'host'] },
    {
      name: 'keyed headers stay',
      rule: { key: { headers: ['Accept-Language'] } },
      kept: ['accept-encoding', 'accept-language', 'host'],
    },
    {
      name: 'passed headers stay',
      rule: { passHeaders: ['X-Request-Id', 'user-agent'] },
      kept: ['accept-encoding', 'host', 'user-agent', 'x-request-id'],
    },
    {
      name: 'a per-user rule keeps the credentials',
      rule: { perUser: true },
      kept: ['accept-encoding', 'authorization', 'cookie', 'host'],
    },
    {
      name: 'allowCredentials keeps the credentials',
      rule: { allowCredentials: true },
      kept: ['accept-encoding', 'authorization', 'cookie', 'host'],
    },
  ]
  it.each(cases)('$name', ({ rule, kept }) => {
    const headers: IncomingHttpHeaders = {
      host: 'shop.test',
      'accept-encoding': 'gzip',
      'accept-language': 'fr',
      'user-agent': 'evil',
      'x-request-id': 'r1',
      accept: 'text/html',
      authorization: 'Bearer u',
      cookie: 'a=1',
      range: 'bytes=0-1',
    }
    const raw = Object.entries(headers).flatMap(([n, v]) => [n.toUpperCase(), String(v)])
    narrowRequest(rules(rule), '', headers, raw)
    expect(Object.keys(headers).sort()).toEqual(kept)
    const rawNames = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    expect(rawNames.sort()).toEqual(kept)
    expect(raw[raw.indexOf('HOST') + 1]).toBe('shop.test')
  })

  it('a keyed header reaches the route as the key holds it (normalised)', () => {
    const headers: IncomingHttpHeaders = { 'accept-language': '  fr ,en ;q=0.5 ', host: 'h' }
    const raw = ['Accept-Language', 'fr ,en', 'Host', 'h', 'accept-language', 'de']
    headers['accept-language'] = ' fr ,en,  de '
    narrowRequest(rules({ key: { headers: ['accept-language'] } }), '', headers, raw)
    expect(headers['accept-language']).toBe('fr, en, de')
    expect(raw).toEqual(['Host', 'h', 'Accept-Language', 'fr, en, de'])
  })

  it.each([
    ['fr', 'fr'],
    [' fr ,en ', 'fr, en'],
    ['fr,\ten', 'fr, en'],
    ['a  b', 'a b'],
    ['Mixed-Case, Kept', 'Mixed-Case, Kept'],
  ])('normalizeHeaderValue(%j) is %j (RFC 9110 §5.3, §5.6.1)', (input, expected) => {
    expect(normalizeHeaderValue(input.replace('\\t', '\t'))).toBe(expected)
  })

  it('several lines are one list', () => {
    expect(normalizeHeaderValue(['fr', ' en '])).toBe('fr, en')
  })

  it('returns the narrowed query', () => {
    const rule = rules({ key: { query: ['lang'] } })
    expect(narrowRequest(rule, 'lang=fr&utm=1', {})).toBe('lang=fr')
    expect(narrowRequest(rule, 'lang=fr', {})).toBeUndefined()
  })
})

describe('requestBypassReason: forwarding, method override, parameter floods', () => {
  const cases: Array<{
    name: string
    rule?: Partial<CacheRule>
    headers?: IncomingHttpHeaders
    query?: string
    expected: RequestBypassReason | undefined
  }> = [
    ...FORWARDING_HEADERS.map((h) => ({
      name: `${h}, unkeyed`,
      headers: { [h]: 'evil.example' },
      expected: 'forwarded' as const,
    })),
    {
      name: 'x-forwarded-proto keyed',
      rule: { key: { headers: ['X-Forwarded-Proto'] } },
      headers: { 'x-forwarded-proto': 'https' },
      expected: undefined,
    },
    {
      name: 'x-forwarded-host passed',
      rule: { passHeaders: ['x-forwarded-host'] },
      headers: { 'x-forwarded-host': 'shop.example' },
      expected: undefined,
    },
    {
      name: 'x-forwarded-for is stripped, not bypassed',
      headers: { 'x-forwarded-for': '10.0.0.1' },
      expected: undefined,
    },
    ...METHOD_OVERRIDE_HEADERS.map((h) => ({
      name: `${h}`,
      headers: { [h]: 'DELETE' },
      expected: 'method-override' as const,
    })),
    {
      name: 'a passed method-override header still bypasses',
      rule: { passHeaders: ['x-http-method-override'] },
      headers: { 'x-http-method-override': 'DELETE' },
      expected: 'method-override',
    },
    { name: '?_method=DELETE', query: 'a=1&_method=DELETE', expected: 'method-override' },
    { name: '?%5Fmethod=DELETE', query: '%5Fmethod=DELETE', expected: 'method-override' },
    { name: '?_methods=1 is another name', query: '_methods=1', expected: undefined },
    {
      name: '1000 parameters',
      query: Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join('&'),
      expected: undefined,
    },
    {
      name: '1001 parameters',
      query: Array.from({ length: 1001 }, (_, i) => `p${i}=1`).join('&'),
      expected: 'query-params',
    },
    {
      name: '1001 one-letter parameters',
      query: Array.from({ length: 1001 }, () => 'a').join('&'),
      expected: 'query-params',
    },
  ]
  it.each(cases)('$name', ({ rule, headers, query, expected }) => {
    expect(
      requestBypassReason(
        cacheRule({ path: '/r', ttl: 60, ...rule }),
        headers ?? {},
        undefined,
        query,
      ),
    ).toBe(expected)
  })
})

describe('passHeaders validation', () => {
  const bad: Array<[unknown, RegExp]> = [
    ['x-a', /option "passHeaders": expected an array of strings, got "x-a"/],
    [['x a'], /option "passHeaders": "x a" is not a header name/],
    [[''], /option "passHeaders": expected non-empty strings/],
  ]
  it.each(bad)('%j is refused at start-up', (value, message) => {
    expect(() => new RuleSet([{ path: '/r', ttl: 60, passHeaders: value as string[] }])).toThrow(
      message,
    )
  })

  it('key.headers must be header names too', () => {
    expect(() => new RuleSet([{ path: '/r', ttl: 60, key: { headers: ['a:b'] } }])).toThrow(
      /option "key.headers": "a:b" is not a header name/,
    )
  })
})
