import fc from 'fast-check'
import { compilePath, mayOverlap, patternShape } from '../../src/rules/path-pattern'
import { RuleSet } from '../../src/rules/rule-set'
import type { CacheRule } from '../../src/rules/types'

const shopRules: CacheRule[] = [
  { name: 'featured', path: '/products/featured', ttl: 60 },
  { name: 'product', path: '/products/:id', ttl: 60 },
  { name: 'product-write', path: '/products/:id', invalidates: ['product:{params.id}'] },
  { name: 'about', path: '/about', ttl: 60 },
  { name: 'files', path: '/files/*path', ttl: 60 },
  { name: 'assets', path: '/assets/*', ttl: 60 },
  { name: 'localized-home', path: '/:lang/home', ttl: 60 },
  { name: 'docs', path: '/docs{/:page}', ttl: 60 },
  { name: 'report', path: '/reports/:id', ttl: 60, methods: ['GET'] },
  { name: 'root', path: '/', ttl: 60 },
]

interface MatchCase {
  method: string
  path: string
  /** The matched rule's name, or undefined for no match. */
  rule: string | undefined
  /** The decoded params; omitted when not worth pinning. */
  params?: Record<string, string>
}

const matches: MatchCase[] = [
  // First match wins
  { method: 'GET', path: '/products/featured', rule: 'featured', params: {} },
  { method: 'GET', path: '/products/42', rule: 'product', params: { id: '42' } },
  // Methods
  { method: 'HEAD', path: '/products/42', rule: 'product', params: { id: '42' } },
  { method: 'PUT', path: '/products/42', rule: 'product-write', params: { id: '42' } },
  { method: 'DELETE', path: '/products/42', rule: 'product-write' },
  { method: 'PATCH', path: '/products/featured', rule: 'product-write' },
  { method: 'OPTIONS', path: '/products/42', rule: undefined },
  { method: 'PROPFIND', path: '/products/42', rule: undefined },
  { method: 'POST', path: '/nothing', rule: undefined },
  { method: 'GET', path: '/reports/1', rule: 'report', params: { id: '1' } },
  { method: 'HEAD', path: '/reports/1', rule: undefined },
  // Like Express: case-insensitive, optional trailing slash
  { method: 'GET', path: '/PRODUCTS/42', rule: 'product', params: { id: '42' } },
  { method: 'GET', path: '/Products/Featured', rule: 'featured' },
  { method: 'GET', path: '/products/42/', rule: 'product', params: { id: '42' } },
  { method: 'GET', path: '/about/', rule: 'about' },
  { method: 'GET', path: '/products/42/reviews', rule: undefined },
  { method: 'GET', path: '/products', rule: undefined },
  // Params are decoded; a malformed escape is kept as given
  { method: 'GET', path: '/products/a%20b', rule: 'product', params: { id: 'a b' } },
  { method: 'GET', path: '/products/%C3%A9t%C3%A9', rule: 'product', params: { id: 'été' } },
  { method: 'GET', path: '/products/%E0%A4%A', rule: 'product', params: { id: '%E0%A4%A' } },
  { method: 'GET', path: '/products/%', rule: 'product', params: { id: '%' } },
  // Wildcards
  { method: 'GET', path: '/files/a/b/c.txt', rule: 'files', params: { path: 'a/b/c.txt' } },
  { method: 'GET', path: '/files/one', rule: 'files', params: { path: 'one' } },
  { method: 'GET', path: '/files', rule: undefined },
  { method: 'GET', path: '/assets/css/site.css', rule: 'assets' },
  { method: 'GET', path: '/assets/x', rule: 'assets' },
  { method: 'GET', path: '/assets', rule: undefined },
  // Optional groups
  { method: 'GET', path: '/docs', rule: 'docs', params: {} },
  { method: 'GET', path: '/docs/intro', rule: 'docs', params: { page: 'intro' } },
  // Rules whose first segment is a param (the index's fallback)
  { method: 'GET', path: '/fr/home', rule: 'localized-home', params: { lang: 'fr' } },
  // 'about' is indexed; its rule does not match, the param-first rule after it does.
  { method: 'GET', path: '/about/home', rule: 'localized-home', params: { lang: 'about' } },
  // 'products' is indexed and an earlier rule matches first.
  { method: 'GET', path: '/products/home', rule: 'product', params: { id: 'home' } },
  { method: 'GET', path: '/', rule: 'root' },
  { method: 'GET', path: '/unknown/path', rule: undefined },
]

describe('RuleSet.match', () => {
  const rules = new RuleSet(shopRules)

  test.each(matches)('$method $path → $rule', ({ method, path, rule, params }) => {
    const m = rules.match(method, path)
    expect(m?.rule.name).toBe(rule)
    if (params !== undefined) expect(m?.params).toEqual(params)
  })

  test('a rule set with only param-first rules finds them', () => {
    const only = new RuleSet([{ name: 'any', path: '/:a/:b', ttl: 1 }])
    expect(only.match('GET', '/x/y')?.params).toEqual({ a: 'x', b: 'y' })
    expect(only.match('GET', '/x')).toBeUndefined()
  })

  test('first match wins even when a param-first rule comes before an indexed one', () => {
    const rs = new RuleSet([
      { name: 'any', path: '/:section/list', ttl: 1 },
      { name: 'products', path: '/products/list', ttl: 1 },
    ])
    expect(rs.match('GET', '/products/list')?.rule.name).toBe('any')
  })
})

describe('patternShape: what the rule index knows of a pattern', () => {
  test.each<[string, string[], number, number]>([
    ['/products/:id', ['products'], 2, 2],
    ['/products/featured', ['products', 'featured'], 2, 2],
    ['/Products/Featured', ['products', 'featured'], 2, 2],
    ['/', [], 0, 1],
    ['/about/', ['about'], 1, 2],
    ['/files/*path', ['files'], 1, Number.POSITIVE_INFINITY],
    ['/:lang/home', [], 2, 2],
    ['/docs{/:page}', [], 0, 2],
    ['/data/f5{/x}', ['data'], 1, 3],
    ['/prefix-:id', [], 1, 1],
    ['/caf\u00e9/menu', [], 2, 2],
  ])('%s → literal %j, %d..%d slashes', (pattern, literal, min, max) => {
    const shape = patternShape(compilePath(pattern))
    expect(shape).toEqual({ literal, min, max })
  })
})

describe('the index finds what a scan of every rule finds', () => {
  // Rules and request paths from one small alphabet, so that they meet often:
  // literal segments in both cases, parameters, optional groups, wildcards,
  // trailing slashes, empty and repeated slashes, non-ASCII text.
  const word = fc.constantFrom('a', 'b', 'A', 'ab', 'data', 'Data', 'x1', 'é')
  const patternSegment = fc.oneof(
    { weight: 4, arbitrary: word },
    { weight: 2, arbitrary: fc.constantFrom(':p', ':q') },
    { weight: 1, arbitrary: fc.constantFrom('{:o}', 'v:p', '{x}') },
  )
  const pattern = fc
    .tuple(
      fc.array(patternSegment, { minLength: 0, maxLength: 4 }),
      fc.constantFrom('', '/', '{/:tail}', '/*rest', '{/x}'),
    )
    .map(([segments, end]) => {
      // Parameter names must be unique within a pattern.
      let n = 0
      const path = segments.map((s) => s.replace(/:([pqo])/g, () => `:n${n++}`)).join('/')
      return `/${path}${end}`
    })
  const requestPath = fc
    .tuple(
      fc.array(fc.oneof(word, fc.constantFrom('7', 'v1', 'x', '', 'DATA')), {
        minLength: 0,
        maxLength: 5,
      }),
      fc.constantFrom('', '/', '//'),
    )
    .map(([segments, end]) => `/${segments.join('/')}${end}`)

  test('first match: same rule, same params', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(pattern, { minLength: 1, maxLength: 12 }),
        fc.array(requestPath, { minLength: 1, maxLength: 10 }),
        (patterns, paths) => {
          const rules = patterns.flatMap((path, i) => {
            try {
              compilePath(path)
            } catch {
              return []
            }
            return [{ name: `r${i}`, path, ttl: 1 }]
          })
          fc.pre(rules.length > 0)
          const rs = new RuleSet(rules)
          for (const path of paths) {
            let expected: { rule: string; params: Record<string, string> } | undefined
            for (const rule of rs.rules) {
              const params = rule.match(path)
              if (params !== undefined) {
                expected = { rule: rule.name, params }
                break
              }
            }
            const found = rs.match('GET', path)
            const actual =
              found === undefined ? undefined : { rule: found.rule.name, params: found.params }
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              throw new Error(
                `${path} with ${JSON.stringify(patterns)}: index ${JSON.stringify(actual)}, scan ${JSON.stringify(expected)}`,
              )
            }
          }
        },
      ),
      { numRuns: 3000 },
    )
  })

  test('200 rules sharing a first segment: the hit rule is found, and only rules that can match are tried', () => {
    const rules: CacheRule[] = []
    for (let i = 0; i < 199; i++) {
      const path =
        i % 3 === 0 ? `/data/:size/f${i}` : i % 3 === 1 ? `/data/f${i}/:id` : `/data/f${i}`
      rules.push({ path, ttl: 60 })
    }
    rules.push({ name: 'data', path: '/data/:size', ttl: 60 })
    const rs = new RuleSet(rules)
    const tried: string[] = []
    for (const rule of rs.rules) {
      const match = rule.match
      ;(rule as { match: typeof match }).match = (path) => {
        tried.push(rule.name)
        return match(path)
      }
    }
    expect(rs.match('GET', '/data/2k')?.rule.name).toBe('data')
    expect(tried).toEqual(['data'])
    tried.length = 0
    expect(rs.match('GET', '/data/f4/9')?.rule.name).toBe('GET,HEAD /data/f4/:id')
    // The earlier `/data/:size/fN` rules have three segments too, and their
    // literal third segment is past what the index keys on: they are tried.
    expect(tried).toEqual([
      'GET,HEAD /data/:size/f0',
      'GET,HEAD /data/:size/f3',
      'GET,HEAD /data/f4/:id',
    ])
  })
})

interface ExclusiveCase {
  name: string
  rules: CacheRule[]
  pattern: string
  expected: string[]
}

const exclusive: ExclusiveCase[] = [
  {
    name: "a rule's own pattern",
    rules: [{ name: 'product', path: '/products/:id', ttl: 1 }],
    pattern: '/products/:id',
    expected: ['product'],
  },
  {
    name: 'a pattern no rule has',
    rules: [{ name: 'product', path: '/products/:id', ttl: 1 }],
    pattern: '/products/*rest',
    expected: [],
  },
  {
    name: 'the same pattern spelled with another param name',
    rules: [{ name: 'product', path: '/products/:id', ttl: 1 }],
    pattern: '/products/:productId',
    expected: [],
  },
  {
    name: 'an earlier overlapping rule shadows it',
    rules: [
      { name: 'featured', path: '/products/featured', ttl: 1 },
      { name: 'product', path: '/products/:id', ttl: 1 },
    ],
    pattern: '/products/:id',
    expected: [],
  },
  {
    name: 'the earlier rule itself is exclusive',
    rules: [
      { name: 'featured', path: '/products/featured', ttl: 1 },
      { name: 'product', path: '/products/:id', ttl: 1 },
    ],
    pattern: '/products/featured',
    expected: ['featured'],
  },
  {
    name: 'an earlier rule that cannot overlap does not shadow',
    rules: [
      { name: 'user', path: '/users/:id', ttl: 1 },
      { name: 'product', path: '/products/:id', ttl: 1 },
    ],
    pattern: '/products/:id',
    expected: ['product'],
  },
  {
    name: 'a later overlapping rule does not shadow',
    rules: [
      { name: 'product', path: '/products/:id', ttl: 1 },
      { name: 'all', path: '/:section/:id', ttl: 1 },
    ],
    pattern: '/products/:id',
    expected: ['product'],
  },
  {
    name: 'write rules are not cache rules',
    rules: [
      { name: 'write', path: '/products/:id', invalidates: ['p'] },
      { name: 'product', path: '/products/:id', ttl: 1 },
    ],
    pattern: '/products/:id',
    expected: ['product'],
  },
  {
    name: 'an earlier wildcard rule may overlap',
    rules: [
      { name: 'everything', path: '/products/*rest', ttl: 1 },
      { name: 'product', path: '/products/:id', ttl: 1 },
    ],
    pattern: '/products/:id',
    expected: [],
  },
]

describe('RuleSet.exclusiveRulesFor', () => {
  test.each(exclusive)('$name', ({ rules, pattern, expected }) => {
    const names = new RuleSet(rules).exclusiveRulesFor(pattern).map((r) => r.name)
    expect(names).toEqual(expected)
  })
})

const overlaps: [string, string, boolean][] = [
  ['/a/:id', '/a/b', true],
  ['/a/:id', '/b/:id', false],
  ['/a/b', '/a/c', false],
  ['/a', '/a/:id', false],
  ['/A/:id', '/a/x', true],
  ['/:x/b', '/a/:y', true],
  ['/:x/b', '/a/c', false],
  ['/a/*rest', '/b', true], // wildcards: conservative
  ['/a{/:b}', '/c', true], // groups: conservative
  ['/a-:id', '/a-b', true], // a param inside a segment: conservative
  // `/a/` matches both (path-to-regexp allows a trailing slash after `/a`).
  ['/a', '/a/', true],
]

describe('mayOverlap', () => {
  test.each(overlaps)('%s ~ %s → %p', (a, b, expected) => {
    expect(mayOverlap(compilePath(a), compilePath(b))).toBe(expected)
    expect(mayOverlap(compilePath(b), compilePath(a))).toBe(expected)
  })

  // When mayOverlap says false, no path may match both: check the claim on sample paths.
  const samples = ['/a', '/a/', '/a/b', '/a/b/', '/b', '/a/x', '/a-b', '/c', '/x/b', '/a/c']
  test.each(overlaps.filter(([, , o]) => !o))('no sample path matches both %s and %s', (a, b) => {
    const both = samples.filter(
      (p) => compilePath(a).match(p) !== undefined && compilePath(b).match(p) !== undefined,
    )
    expect(both).toEqual([])
  })
})

describe('match() memo', () => {
  const rs = new RuleSet([
    { name: 'product', path: '/products/:id', ttl: 60 },
    { name: 'data', path: '/data/*rest', ttl: 60 },
  ] as CacheRule[])

  test('a path asked again gets the same answer, frozen (callers share it)', () => {
    const first = rs.match('GET', '/products/7')
    const again = rs.match('GET', '/products/7')
    expect(again).toBe(first)
    expect(again?.params).toEqual({ id: '7' })
    expect(Object.isFrozen(again?.params)).toBe(true)
    expect(rs.match('GET', '/nothing/here')).toBeUndefined()
    expect(rs.match('GET', '/nothing/here')).toBeUndefined()
    // Another method is another answer.
    expect(rs.match('DELETE', '/products/7')).toBeUndefined()
  })

  test('bounded: floods of distinct paths and long paths still match exactly', () => {
    for (let i = 0; i < 10_000; i++) {
      expect(rs.match('GET', `/products/${i}`)?.params).toEqual({ id: String(i) })
    }
    const long = `/products/${'x'.repeat(300)}`
    expect(rs.match('GET', long)?.params).toEqual({ id: 'x'.repeat(300) })
    expect(rs.match('GET', '/products/7')?.rule.name).toBe('product')
  })
})
