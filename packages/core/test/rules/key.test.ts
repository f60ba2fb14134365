import type { IncomingHttpHeaders } from 'node:http'
import fc from 'fast-check'
import { buildKey, type KeyInput, normalizeHeaderValue, queryComponent } from '../../src/rules/key'
import type { CacheRule, CompiledCacheRule } from '../../src/rules/types'
import { cacheRule } from '../support'

const rules = {
  all: cacheRule({ name: 'all' }),
  listed: cacheRule({ name: 'listed', key: { query: ['page', 'lang'] } }),
  none: cacheRule({ name: 'none', key: { query: 'none' } }),
  headers: cacheRule({ name: 'headers', key: { headers: ['Accept-Language', 'X-Tenant'] } }),
  perUser: cacheRule({ name: 'per-user', perUser: true }),
} satisfies Record<string, CompiledCacheRule>

type RuleName = keyof typeof rules

function input(over: Partial<KeyInput> = {}): KeyInput {
  return { path: '/r', rawQuery: '', headers: {}, user: undefined, ...over }
}

interface KeyCase {
  name: string
  rule: RuleName
  a: Partial<KeyInput>
  b: Partial<KeyInput>
  same: boolean
}

const keyCases: KeyCase[] = [
  // query 'all'
  {
    name: 'all: order across names does not matter',
    rule: 'all',
    a: { rawQuery: 'a=1&b=2' },
    b: { rawQuery: 'b=2&a=1' },
    same: true,
  },
  {
    name: 'all: order within one name matters',
    rule: 'all',
    a: { rawQuery: 'a=1&a=2' },
    b: { rawQuery: 'a=2&a=1' },
    same: false,
  },
  {
    name: 'all: interleaving names keeps per-name order',
    rule: 'all',
    a: { rawQuery: 'a=1&b=x&a=2' },
    b: { rawQuery: 'b=x&a=1&a=2' },
    same: true,
  },
  {
    name: 'all: an extra parameter',
    rule: 'all',
    a: { rawQuery: 'a=1' },
    b: { rawQuery: 'a=1&b=2' },
    same: false,
  },
  {
    name: 'all: no query vs one empty parameter',
    rule: 'all',
    a: { rawQuery: '' },
    b: { rawQuery: 'a=' },
    same: false,
  },
  { name: 'all: a vs a=', rule: 'all', a: { rawQuery: 'a' }, b: { rawQuery: 'a=' }, same: true },
  {
    name: 'all: percent-encoding of the same name',
    rule: 'all',
    a: { rawQuery: '%61=1' },
    b: { rawQuery: 'a=1' },
    same: true,
  },
  {
    name: 'all: an encoded & is part of the value',
    rule: 'all',
    a: { rawQuery: 'a=1%262' },
    b: { rawQuery: 'a=1&2' },
    same: false,
  },
  {
    name: 'all: delimiters of the key format in values',
    rule: 'all',
    a: { rawQuery: 'a=1:b&c=' },
    b: { rawQuery: 'a=1&b:c=' },
    same: false,
  },
  {
    // The app's query parser (qs, querystring) reads `??a=1` as the parameter `?a`.
    name: 'all: a leading ? is part of the first name',
    rule: 'all',
    a: { rawQuery: '?a=1' },
    b: { rawQuery: 'a=1' },
    same: false,
  },
  // listed parameters
  {
    name: 'listed: other parameters are ignored',
    rule: 'listed',
    a: { rawQuery: 'page=2&utm=x' },
    b: { rawQuery: 'utm=y&page=2' },
    same: true,
  },
  {
    name: 'listed: a listed parameter differs',
    rule: 'listed',
    a: { rawQuery: 'page=2' },
    b: { rawQuery: 'page=3' },
    same: false,
  },
  {
    name: 'listed: absent vs empty',
    rule: 'listed',
    a: { rawQuery: 'utm=1' },
    b: { rawQuery: 'page=' },
    same: false,
  },
  {
    name: 'listed: no query vs only unlisted parameters',
    rule: 'listed',
    a: { rawQuery: '' },
    b: { rawQuery: 'utm=1' },
    same: true,
  },
  {
    name: 'listed: values do not move between names',
    rule: 'listed',
    a: { rawQuery: 'page=1&lang=' },
    b: { rawQuery: 'page=&lang=1' },
    same: false,
  },
  // none
  {
    name: 'none: the query is ignored',
    rule: 'none',
    a: { rawQuery: 'a=1' },
    b: { rawQuery: 'a=2&b=3' },
    same: true,
  },
  // headers
  {
    name: 'headers: a keyed header differs',
    rule: 'headers',
    a: { headers: { 'accept-language': 'fr' } },
    b: { headers: { 'accept-language': 'en' } },
    same: false,
  },
  {
    name: 'headers: absent vs empty',
    rule: 'headers',
    a: { headers: {} },
    b: { headers: { 'accept-language': '' } },
    same: false,
  },
  {
    name: 'headers: values do not move between headers',
    rule: 'headers',
    a: { headers: { 'accept-language': 'fr', 'x-tenant': '' } },
    b: { headers: { 'accept-language': '', 'x-tenant': 'fr' } },
    same: false,
  },
  {
    name: 'headers: an unkeyed header is ignored',
    rule: 'headers',
    a: { headers: { 'accept-language': 'fr', 'user-agent': 'a' } },
    b: { headers: { 'accept-language': 'fr', 'user-agent': 'b' } },
    same: true,
  },
  {
    name: 'shared rule: headers not in the key are ignored',
    rule: 'all',
    a: { headers: { 'accept-language': 'fr' } },
    b: { headers: { 'accept-language': 'en' } },
    same: true,
  },
  // users
  {
    name: 'per-user: users differ',
    rule: 'perUser',
    a: { user: 'alice' },
    b: { user: 'bob' },
    same: false,
  },
  {
    name: 'per-user: a user id with key delimiters',
    rule: 'perUser',
    a: { user: '1:a', path: '/r' },
    b: { user: '1', path: '/r' },
    same: false,
  },
  {
    name: 'shared rule: the user is not in the key',
    rule: 'all',
    a: { user: 'alice' },
    b: { user: 'bob' },
    same: true,
  },
  // path
  { name: 'paths differ', rule: 'all', a: { path: '/r/1' }, b: { path: '/r/2' }, same: false },
]

describe('buildKey', () => {
  test.each(keyCases)('$name', ({ rule, a, b, same }) => {
    const ka = buildKey('ns', rules[rule], input(a))
    const kb = buildKey('ns', rules[rule], input(b))
    if (same) expect(ka).toBe(kb)
    else expect(ka).not.toBe(kb)
  })

  test('GET and HEAD share a key: the method is not part of it', () => {
    const base = { path: '/r', rawQuery: 'a=1', headers: {}, user: undefined }
    const get = buildKey('ns', rules.all, { ...base, method: 'GET' } as KeyInput)
    const head = buildKey('ns', rules.all, { ...base, method: 'HEAD' } as KeyInput)
    expect(get).toBe(head)
  })

  test('rules and namespaces separate keys', () => {
    const i = input({ rawQuery: 'a=1' })
    const keys = new Set([
      buildKey('ns', rules.all, i),
      buildKey('other', rules.all, i),
      buildKey('ns', cacheRule({ name: 'all2' }), i),
    ])
    expect(keys.size).toBe(3)
  })

  test('a key starts with the namespace and the key format version', () => {
    expect(buildKey('shop', rules.all, input())).toMatch(/^shop:v2:/)
  })

  test.each<[CacheRule['key'], string, string]>([
    [{ query: 'none' }, 'a=1', '!'],
    [{ query: 'all' }, '', '#0;'],
    [{ query: 'all' }, 'b=2&a=1', '#2;1:a1:11:b1:2'],
    [{ query: ['a'] }, 'a=1&a=&b=2', '#1;#2;1:10:'],
    [{ query: ['a', 'b'] }, '', '#2;#0;#0;'],
  ])('queryComponent %j %p', (key, raw, expected) => {
    expect(queryComponent(cacheRule({ key }).key.query, raw)).toBe(expected)
  })
})

// Property tests: the key is injective over its components.

/** Characters that break naive encodings, plus arbitrary graphemes. */
const tricky = fc.constantFrom(
  '&',
  '=',
  ':',
  '#',
  '!',
  '%',
  '+',
  ' ',
  '?',
  '/',
  ',',
  '"',
  '\\',
  '0',
  '1',
  '9',
  'a',
  'b',
  'é',
  '中',
  '😀',
)
const text = fc.string({
  unit: fc.oneof(tricky, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })),
  maxLength: 6,
})
const paramName = fc.oneof(fc.constantFrom('a', 'b', 'page', 'lang', '1', ':'), text)
const params = fc.array(fc.tuple(paramName, text), { maxLength: 5 })
const headerValue = fc.option(fc.oneof(text, fc.array(text, { maxLength: 3 })), {
  nil: undefined,
})

interface Components {
  path: string
  params: [string, string][]
  lang: string | string[] | undefined
  tenant: string | string[] | undefined
  user: string
}

const components: fc.Arbitrary<Components> = fc.record({
  path: text.map((s) => `/${s}`),
  params,
  lang: headerValue,
  tenant: headerValue,
  user: text.filter((u) => u !== ''),
})

/** Two inputs that share a random subset of their components, so near-collisions are tried. */
const pair = fc
  .tuple(components, components, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }))
  .map(([x, z, mask]): [Components, Components] => [
    x,
    {
      path: mask[0] ? z.path : x.path,
      params: mask[1] ? z.params : x.params,
      lang: mask[2] ? z.lang : x.lang,
      tenant: mask[3] ? z.tenant : x.tenant,
      user: mask[4] ? z.user : x.user,
    },
  ])

const everything = cacheRule({
  name: 'everything',
  perUser: true,
  key: { headers: ['x-lang', 'x-tenant'] },
})
const listedRule = cacheRule({ name: 'listed', key: { query: ['a', 'b', ':'] } })

function keyInput(c: Components): KeyInput {
  const headers: IncomingHttpHeaders = { 'x-lang': c.lang, 'user-agent': 'ignored' }
  if (c.tenant !== undefined) headers['x-tenant'] = c.tenant
  return {
    path: c.path,
    rawQuery: new URLSearchParams(c.params).toString(),
    headers,
    user: c.user,
  }
}

/** The parameters as the app sees them: sorted by name, each name's values in order. */
function canonicalParams(list: [string, string][]): [string, string][] {
  return list
    .map((p, i) => [p, i] as const)
    .sort(([[x], i], [[y], j]) => (x < y ? -1 : x > y ? 1 : i - j))
    .map(([p]) => p)
}

/** A keyed header as the key holds it: absent, or its normalised value (lines joined, spaces trimmed). */
const headerForm = (v: string | string[] | undefined) =>
  v === undefined ? null : normalizeHeaderValue(v)

function canonical(c: Components): string {
  return JSON.stringify([
    c.path,
    canonicalParams(c.params),
    headerForm(c.lang),
    headerForm(c.tenant),
    c.user,
  ])
}

function canonicalListed(c: Components): string {
  const q = new URLSearchParams(c.params)
  return JSON.stringify([c.path, ['a', 'b', ':'].map((n) => q.getAll(n))])
}

describe('buildKey properties', () => {
  test('the generator round-trips: URLSearchParams decodes what it encoded', () => {
    fc.assert(
      fc.property(params, (p) => {
        expect([...new URLSearchParams(new URLSearchParams(p).toString())]).toEqual(p)
      }),
    )
  })

  test('injective: distinct components give distinct keys, equal ones equal keys', () => {
    fc.assert(
      fc.property(pair, ([x, y]) => {
        const kx = buildKey('ns', everything, keyInput(x))
        const ky = buildKey('ns', everything, keyInput(y))
        expect(kx === ky).toBe(canonical(x) === canonical(y))
      }),
      { numRuns: 2000 },
    )
  })

  test('injective with listed query parameters', () => {
    fc.assert(
      fc.property(pair, ([x, y]) => {
        const kx = buildKey('ns', listedRule, keyInput(x))
        const ky = buildKey('ns', listedRule, keyInput(y))
        expect(kx === ky).toBe(canonicalListed(x) === canonicalListed(y))
      }),
      { numRuns: 1000 },
    )
  })

  test('reordering parameters across names keeps the key', () => {
    // A random interleaving that keeps the order of each name's values.
    const reordered = components.chain((c) =>
      fc.shuffledSubarray(c.params, { minLength: c.params.length }).map((shuffled) => {
        const queues = new Map<string, string[]>()
        for (const [n, v] of c.params) queues.set(n, [...(queues.get(n) ?? []), v])
        const again = shuffled.map(([n]): [string, string] => [n, queues.get(n)?.shift() ?? ''])
        return [c, { ...c, params: again }] as const
      }),
    )
    fc.assert(
      fc.property(reordered, ([c, d]) => {
        expect(buildKey('ns', everything, keyInput(d))).toBe(
          buildKey('ns', everything, keyInput(c)),
        )
      }),
    )
  })
})

// A decoder for the key format: that every key decodes back into exactly the
// components it was built from proves the encoding injective, whatever the
// lengths (multi-digit counts and lengths included).
class KeyReader {
  i = 0
  constructor(readonly key: string) {}
  count(): number {
    expect(this.key[this.i]).toBe('#')
    const end = this.key.indexOf(';', this.i)
    const n = Number(this.key.slice(this.i + 1, end))
    this.i = end + 1
    return n
  }
  str(): string {
    const colon = this.key.indexOf(':', this.i)
    const len = Number(this.key.slice(this.i, colon))
    const out = this.key.slice(colon + 1, colon + 1 + len)
    this.i = colon + 1 + len
    return out
  }
  absent(): boolean {
    if (this.key[this.i] !== '!') return false
    this.i++
    return true
  }
  list(): string[] {
    const n = this.count()
    return Array.from({ length: n }, () => this.str())
  }
}

function decodeKey(
  key: string,
  listed: readonly string[] | 'all',
  headerCount: number,
  perUser: boolean,
) {
  const r = new KeyReader(key)
  r.i = key.indexOf(':v2:') + 4
  const name = r.str()
  const path = r.str()
  let query: unknown
  if (listed === 'all') {
    const n = r.count()
    query = Array.from({ length: n }, () => [r.str(), r.str()])
  } else {
    const n = r.count()
    query = Array.from({ length: n }, () => r.list())
  }
  const hn = r.count()
  expect(hn).toBe(headerCount)
  const headers = Array.from({ length: hn }, () =>
    r.absent() ? undefined : r.key[r.i] === '#' ? r.list() : r.str(),
  )
  let user: string | undefined
  if (perUser) user = r.str()
  else expect(r.absent()).toBe(true)
  expect(r.i).toBe(key.length)
  return { name, path, query, headers, user }
}

const longish = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ minLength: 90, maxLength: 260 }),
  fc.stringMatching(/^[0-9:#;!]{0,40}$/),
)

test('every key decodes back into its components (injective, any lengths)', () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^\/[a-z0-9/:#;!%]{0,300}$/),
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'lang'), longish), { maxLength: 15 }),
      fc.array(fc.option(longish, { nil: undefined }), { minLength: 2, maxLength: 2 }),
      longish,
      (path, pairs, headerValues, user) => {
        const rule = cacheRule({
          path: '/*rest',
          key: { query: ['a', 'lang'], headers: ['x-a', 'x-b'] },
          perUser: true,
        })
        const rawQuery = new URLSearchParams(pairs).toString()
        const headers: Record<string, string> = {}
        if (headerValues[0] !== undefined) headers['x-a'] = headerValues[0]
        if (headerValues[1] !== undefined) headers['x-b'] = headerValues[1]
        const decoded = decodeKey(
          buildKey('ns', rule, { path, rawQuery, headers, user }),
          ['a', 'lang'],
          2,
          true,
        )
        const params = new URLSearchParams(rawQuery)
        expect(decoded).toEqual({
          name: rule.name,
          path,
          query: [params.getAll('a'), params.getAll('lang')],
          headers: headerValues.map((v) => (v === undefined ? undefined : normalizeHeaderValue(v))),
          user,
        })
      },
    ),
    { numRuns: 300 },
  )
})
