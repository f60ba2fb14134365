import { CachetConfigError, type CachetErrorCode } from '../../src/errors'
import type { RuleDefaults } from '../../src/rules/compile-rule'
import { RuleSet } from '../../src/rules/rule-set'
import { compileTemplate } from '../../src/rules/template'
import type { CacheRule, CompiledRule } from '../../src/rules/types'
import { thrown } from '../support'

interface BadRules {
  name: string
  rules: unknown
  defaults?: RuleDefaults
  /** Default `CACHET_INVALID_RULE`. */
  code?: CachetErrorCode
  /** The start of the message: which rule and which option. */
  where: string
  /** What was expected (or what is wrong). */
  expected: RegExp
  /** What was given, as the message shows it; omitted when the option name says it all. */
  given?: string
}

const LONG_TAG = 'x'.repeat(257)

const badRules: BadRules[] = [
  // The rule and its options
  {
    name: 'rules is not an array',
    rules: 'GET /a',
    code: 'CACHET_INVALID_OPTION',
    where: 'option "rules"',
    expected: /expected an array of rules/,
    given: 'got "GET /a"',
  },
  {
    name: 'a rule that is not an object',
    rules: ['/a'],
    where: 'rules[0] (no path): option "rule"',
    expected: /expected a rule object/,
    given: 'got "/a"',
  },
  {
    name: 'a null rule',
    rules: [null],
    where: 'rules[0] (no path): option "rule"',
    expected: /expected a rule object/,
    given: 'got null',
  },
  {
    // The option name is what was given; what is expected is the list of options.
    name: 'unknown option',
    rules: [{ path: '/a', ttl: 60, tll: 60 }],
    where: 'rules[0] (/a): unknown option "tll"',
    expected: /\(did you mean "ttl"\?\)$/,
  },
  {
    name: 'a write-rule option on a cache rule (ttl and invalidates)',
    rules: [{ path: '/a', ttl: 60, invalidates: ['a'] }],
    where: 'rules[0] (/a): option "invalidates"',
    expected: /either caches \(ttl\) or invalidates after writes/,
  },
  {
    name: 'a cache-rule option on a write rule (tags)',
    rules: [{ path: '/a', invalidates: ['a'], tags: ['b'] }],
    where: 'rules[0] (/a): option "tags"',
    expected: /not an option of a write rule/,
  },
  {
    name: 'a cache-rule option on a write rule (perUser)',
    rules: [{ path: '/a', invalidates: ['a'], perUser: true }],
    where: 'rules[0] (/a): option "perUser"',
    expected: /not an option of a write rule/,
  },
  // path
  {
    name: 'path missing',
    rules: [{ ttl: 60 }],
    where: 'rules[0] (no path): option "path"',
    expected: /expected a string/,
    given: 'got undefined',
  },
  {
    name: 'path not starting with /',
    rules: [{ path: 'a/b', ttl: 60 }],
    where: 'rules[0] (a/b): option "path"',
    expected: /expected a path starting with "\/"/,
    given: '"a/b"',
  },
  {
    name: 'parameter without a name',
    rules: [{ path: '/a/:', ttl: 60 }],
    where: 'rules[0] (/a/:): option "path"',
    expected: /invalid path pattern .*missing parameter name/,
    given: '"/a/:"',
  },
  {
    name: 'unclosed group',
    rules: [{ path: '/a{/:b', ttl: 60 }],
    where: 'rules[0] (/a{/:b): option "path"',
    expected: /invalid path pattern/,
    given: '"/a{/:b"',
  },
  // ttl
  {
    name: 'ttl missing',
    rules: [{ path: '/a' }],
    where: 'rules[0] (/a): option "ttl"',
    expected: /needs a ttl \(to cache\) or invalidates/,
  },
  {
    name: 'negative ttl',
    rules: [{ path: '/a', ttl: -1 }],
    where: 'rules[0] (/a): option "ttl"',
    expected: /expected a duration of 0 seconds or more/,
    given: 'got -1',
  },
  {
    name: 'ttl "abc"',
    rules: [{ path: '/a', ttl: 'abc' }],
    where: 'rules[0] (/a): option "ttl"',
    expected: /duration string like '60s'/,
    given: 'got "abc"',
  },
  {
    name: 'ttl NaN',
    rules: [{ path: '/a', ttl: Number.NaN }],
    where: 'rules[0] (/a): option "ttl"',
    expected: /expected a duration/,
    given: 'got NaN',
  },
  {
    name: 'ttl true',
    rules: [{ path: '/a', ttl: true }],
    where: 'rules[0] (/a): option "ttl"',
    expected: /expected seconds \(a number\)/,
    given: 'got true',
  },
  {
    name: 'ttl 0',
    rules: [{ path: '/a', ttl: 0 }],
    where: 'rules[0] (/a): option "ttl"',
    expected: /expected more than 0 seconds/,
    given: 'got 0',
  },
  {
    name: "ttl '0s'",
    rules: [{ path: '/a', ttl: '0s' }],
    where: 'rules[0] (/a): option "ttl"',
    expected: /expected more than 0 seconds/,
    given: 'got "0s"',
  },
  {
    name: 'ttl 0 from the defaults names the value given',
    rules: [{ path: '/a' }],
    defaults: { ttl: 0 },
    where: 'rules[0] (/a): option "ttl"',
    expected: /expected more than 0 seconds/,
    given: 'got 0',
  },
  // refresh ahead and ttl jitter: fractions of the ttl
  ...(
    [
      ['refreshAhead', 0, 'above 0'],
      ['refreshAhead', 1, 'above 0'],
      ['refreshAhead', '80%', 'above 0'],
      ['refreshAhead', Number.NaN, 'above 0'],
      ['ttlJitter', -0.1, 'from 0'],
      ['ttlJitter', 1, 'from 0'],
      ['ttlJitter', true, 'from 0'],
    ] as const
  ).map(
    ([option, value, lower]): BadRules => ({
      name: `${option} ${String(value)}`,
      rules: [{ path: '/a', ttl: 60, [option]: value }],
      where: `rules[0] (/a): option "${option}"`,
      expected: new RegExp(`expected a fraction of the ttl, a number ${lower} and below 1`),
      given: `got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
    }),
  ),
  {
    name: "refreshAhead with ttl: 'origin'",
    rules: [{ path: '/a', ttl: 'origin', refreshAhead: 0.8 }],
    where: 'rules[0] (/a): option "refreshAhead"',
    expected: /not with ttl: 'origin' \(a copy's Age can put it past the point as it arrives/,
  },
  {
    name: "ttlJitter with ttl: 'origin'",
    rules: [{ path: '/a', ttl: 'origin', ttlJitter: 0.1 }],
    where: 'rules[0] (/a): option "ttlJitter"',
    expected: /not with ttl: 'origin'/,
  },
  // stale windows
  ...(['staleWhileRevalidate', 'staleIfError'] as const).flatMap((option): BadRules[] => [
    {
      name: `${option} negative`,
      rules: [{ path: '/a', ttl: 60, [option]: -1 }],
      where: `rules[0] (/a): option "${option}"`,
      expected: /expected a duration of 0 seconds or more/,
      given: 'got -1',
    },
    {
      name: `${option} "abc"`,
      rules: [{ path: '/a', ttl: 60, [option]: 'abc' }],
      where: `rules[0] (/a): option "${option}"`,
      expected: /duration string like '60s'/,
      given: 'got "abc"',
    },
    {
      name: `${option} "-5s"`,
      rules: [{ path: '/a', ttl: 60, [option]: '-5s' }],
      where: `rules[0] (/a): option "${option}"`,
      expected: /duration string like '60s'/,
      given: 'got "-5s"',
    },
    {
      name: `${option} Infinity`,
      rules: [{ path: '/a', ttl: 60, [option]: Number.POSITIVE_INFINITY }],
      where: `rules[0] (/a): option "${option}"`,
      expected: /expected a duration/,
      given: 'got Infinity',
    },
    {
      name: `${option} true`,
      rules: [{ path: '/a', ttl: 60, [option]: true }],
      where: `rules[0] (/a): option "${option}"`,
      expected: /expected seconds \(a number\)/,
      given: 'got true',
    },
    {
      name: `${option} null`,
      rules: [{ path: '/a', ttl: 60, [option]: null }],
      where: `rules[0] (/a): option "${option}"`,
      expected: /expected seconds \(a number\)/,
      given: 'got null',
    },
    {
      name: `${option} on a write rule`,
      rules: [{ path: '/a', invalidates: ['a'], [option]: 10 }],
      where: `rules[0] (/a): option "${option}"`,
      expected: /not an option of a write rule/,
    },
    {
      name: `${option} on the second rule names that rule`,
      rules: [
        { path: '/a', ttl: 60 },
        { path: '/b/:id', ttl: 60, [option]: '1x' },
      ],
      where: `rules[1] (/b/:id): option "${option}"`,
      expected: /duration string/,
      given: 'got "1x"',
    },
  ]),
  // statuses
  ...[500, 206, 304, 99, 200.5, '200'].map(
    (s): BadRules => ({
      name: `statuses [${JSON.stringify(s)}]`,
      rules: [{ path: '/a', ttl: 60, statuses: [200, s] }],
      where: 'rules[0] (/a): option "statuses"',
      expected: /expected status codes from 200 to 499 \(5xx, 206 and 304 are never stored\)/,
      given: `got ${typeof s === 'string' ? `"${s}"` : s}`,
    }),
  ),
  {
    name: 'statuses not an array',
    rules: [{ path: '/a', ttl: 60, statuses: 200 }],
    where: 'rules[0] (/a): option "statuses"',
    expected: /expected a non-empty array of status codes/,
    given: 'got 200',
  },
  {
    name: 'statuses empty',
    rules: [{ path: '/a', ttl: 60, statuses: [] }],
    where: 'rules[0] (/a): option "statuses"',
    expected: /expected a non-empty array/,
    given: 'got an array of 0',
  },
  // maxBodySize
  {
    name: 'negative maxBodySize',
    rules: [{ path: '/a', ttl: 60, maxBodySize: -1 }],
    where: 'rules[0] (/a): option "maxBodySize"',
    expected: /expected a whole number of bytes/,
    given: 'got -1',
  },
  {
    name: "maxBodySize '1XB'",
    rules: [{ path: '/a', ttl: 60, maxBodySize: '1XB' }],
    where: 'rules[0] (/a): option "maxBodySize"',
    expected: /size string like '1MiB'/,
    given: 'got "1XB"',
  },
  // key
  {
    name: 'key not an object',
    rules: [{ path: '/a', ttl: 60, key: 'all' }],
    where: 'rules[0] (/a): option "key"',
    expected: /expected an object \{ query\?, headers\? \}/,
    given: 'got "all"',
  },
  {
    name: 'key.query a word other than all/none',
    rules: [{ path: '/a', ttl: 60, key: { query: 'some' } }],
    where: 'rules[0] (/a): option "key.query"',
    expected: /expected 'all', 'none' or an array of names/,
    given: 'got "some"',
  },
  {
    name: 'key.query with a non-string name',
    rules: [{ path: '/a', ttl: 60, key: { query: ['a', 1] } }],
    where: 'rules[0] (/a): option "key.query"',
    expected: /expected non-empty strings/,
    given: 'got 1',
  },
  {
    name: 'key.query with an empty name',
    rules: [{ path: '/a', ttl: 60, key: { query: [''] } }],
    where: 'rules[0] (/a): option "key.query"',
    expected: /expected non-empty strings/,
    given: 'got ""',
  },
  {
    name: 'key.foo',
    rules: [{ path: '/a', ttl: 60, key: { foo: ['a'] } }],
    where: 'rules[0] (/a): unknown option "key.foo"',
    expected: /\(expected one of query, headers\)$/,
  },
  {
    name: 'key.headers not an array',
    rules: [{ path: '/a', ttl: 60, key: { headers: 'accept' } }],
    where: 'rules[0] (/a): option "key.headers"',
    expected: /expected an array of strings/,
    given: 'got "accept"',
  },
  // tags
  {
    name: 'tag naming a parameter the path lacks',
    rules: [{ path: '/products/:id', ttl: 60, tags: ['product:{params.nope}'] }],
    where: 'rules[0] (/products/:id): option "tags"',
    expected: /\{params\.nope\} .* names a parameter the path lacks \(it has: id\)/,
    given: '"product:{params.nope}"',
  },
  {
    name: '{user} tag on a shared rule',
    rules: [{ path: '/me', ttl: 60, tags: ['user:{user}'] }],
    where: 'rules[0] (/me): option "tags"',
    expected: /\{user\} .* needs a per-user rule \(perUser: true\)/,
    given: '"user:{user}"',
  },
  {
    name: 'unknown template variable',
    rules: [{ path: '/a', ttl: 60, tags: ['a:{foo}'] }],
    where: 'rules[0] (/a): option "tags"',
    expected:
      /unknown variable \{foo\} .*expected \{params\.<name>\}, \{query\.<name>\} or \{user\}/,
    given: '"a:{foo}"',
  },
  {
    name: 'unclosed brace',
    rules: [{ path: '/a/:id', ttl: 60, tags: ['a:{params.id'] }],
    where: 'rules[0] (/a/:id): option "tags"',
    expected: /an unclosed "\{"/,
    given: '"a:{params.id"',
  },
  {
    name: 'closing brace without an opening one',
    rules: [{ path: '/a/:id', ttl: 60, tags: ['a:params.id}'] }],
    where: 'rules[0] (/a/:id): option "tags"',
    expected: /a "\}" without its "\{"/,
    given: '"a:params.id}"',
  },
  {
    name: 'tag starting with #',
    rules: [{ path: '/a', ttl: 60, tags: ['#route:x'] }],
    where: 'rules[0] (/a): option "tags"',
    expected: /tags starting with "#" are reserved/,
    given: '"#route:x"',
  },
  {
    name: 'tags not an array',
    rules: [{ path: '/a', ttl: 60, tags: 'a' }],
    where: 'rules[0] (/a): option "tags"',
    expected: /expected an array of strings/,
    given: 'got "a"',
  },
  {
    name: 'tag longer than 256 characters',
    rules: [{ path: '/a', ttl: 60, tags: [LONG_TAG] }],
    where: 'rules[0] (/a): option "tags"',
    expected: /a tag is at most 256 characters/,
  },
  // methods
  {
    name: 'POST on a cache rule',
    rules: [{ path: '/a', ttl: 60, methods: ['GET', 'post'] }],
    where: 'rules[0] (/a): option "methods"',
    expected: /a cache rule \(one with a ttl\) caches only GET and HEAD/,
    given: 'got POST',
  },
  {
    name: 'GET on a write rule',
    rules: [{ path: '/a', invalidates: ['a'], methods: ['PUT', 'GET'] }],
    where: 'rules[0] (/a): option "methods"',
    expected: /a write rule invalidates after unsafe methods only/,
    given: 'got GET',
  },
  {
    // OPTIONS is a safe method (RFC 9110 §9.2.1), like GET and HEAD.
    name: 'OPTIONS on a write rule',
    rules: [{ path: '/a', invalidates: ['a'], methods: ['OPTIONS'] }],
    where: 'rules[0] (/a): option "methods"',
    expected: /a write rule invalidates after unsafe methods only/,
    given: 'OPTIONS',
  },
  {
    name: 'unknown method',
    rules: [{ path: '/a', ttl: 60, methods: ['FETCH'] }],
    where: 'rules[0] (/a): option "methods"',
    expected: /unknown method/,
    given: '"FETCH"',
  },
  {
    name: 'no methods',
    rules: [{ path: '/a', ttl: 60, methods: [] }],
    where: 'rules[0] (/a): option "methods"',
    expected: /expected at least one method/,
    given: 'got an empty array',
  },
  {
    name: 'methods not an array',
    rules: [{ path: '/a', ttl: 60, methods: 'GET' }],
    where: 'rules[0] (/a): option "methods"',
    expected: /expected an array of strings/,
    given: 'got "GET"',
  },
  // names
  {
    name: 'duplicate names',
    rules: [
      { path: '/a', ttl: 60, name: 'page' },
      { path: '/b', ttl: 60, name: 'page' },
    ],
    where: 'rules[1] (/b): option "name"',
    expected: /is also the name of rules\[0\]/,
    given: '"page"',
  },
  {
    name: 'duplicate default names (same methods and path)',
    rules: [
      { path: '/a', ttl: 60 },
      { path: '/a', ttl: 30 },
    ],
    where: 'rules[1] (/a): option "name"',
    expected: /is also the name of rules\[0\]/,
    given: '"GET,HEAD /a"',
  },
  {
    name: 'empty name',
    rules: [{ path: '/a', ttl: 60, name: '' }],
    where: 'rules[0] (/a): option "name"',
    expected: /expected a string of 1 to 128 characters/,
    given: 'got ""',
  },
  {
    name: 'the error names the index of the bad rule',
    rules: [
      { path: '/a', ttl: 60 },
      { path: '/b', ttl: 60 },
      { path: '/c', ttl: -5 },
    ],
    where: 'rules[2] (/c): option "ttl"',
    expected: /expected a duration/,
    given: 'got -5',
  },
  // booleans
  {
    name: 'perUser not a boolean',
    rules: [{ path: '/a', ttl: 60, perUser: 'yes' }],
    where: 'rules[0] (/a): option "perUser"',
    expected: /expected true or false/,
    given: 'got "yes"',
  },
  {
    name: 'allowCredentials not a boolean',
    rules: [{ path: '/a', ttl: 60, allowCredentials: 1 }],
    where: 'rules[0] (/a): option "allowCredentials"',
    expected: /expected true or false/,
    given: 'got 1',
  },
  // invalidates
  {
    name: 'invalidates {} (nothing to invalidate)',
    rules: [{ path: '/a', invalidates: {} }],
    where: 'rules[0] (/a): option "invalidates"',
    expected: /expected at least one tag, pattern or user: true/,
  },
  {
    name: 'invalidates [] (nothing to invalidate)',
    rules: [{ path: '/a', invalidates: [] }],
    where: 'rules[0] (/a): option "invalidates"',
    expected: /expected at least one tag, pattern or user: true/,
  },
  {
    name: 'invalidates.foo',
    rules: [{ path: '/a', invalidates: { foo: ['a'] } }],
    where: 'rules[0] (/a): unknown option "invalidates.foo"',
    expected: /\(expected one of tags, patterns, user, mode\)$/,
  },
  {
    name: 'invalidates a string',
    rules: [{ path: '/a', invalidates: 'products' }],
    where: 'rules[0] (/a): option "invalidates"',
    expected: /expected tag templates or \{ tags\?, patterns\?, user\? \}/,
    given: 'got "products"',
  },
  {
    name: 'invalidates null',
    rules: [{ path: '/a', invalidates: null }],
    where: 'rules[0] (/a): option "invalidates"',
    expected: /expected tag templates or/,
    given: 'got null',
  },
  {
    name: 'invalidates.patterns not starting with /',
    rules: [{ path: '/a', invalidates: { patterns: ['products/*'] } }],
    where: 'rules[0] (/a): option "invalidates.patterns"',
    expected: /expected a path starting with "\/"/,
    given: '"products/*"',
  },
  {
    name: 'invalidates.patterns with a bad pattern',
    rules: [{ path: '/a', invalidates: { patterns: ['/a/:'] } }],
    where: 'rules[0] (/a): option "invalidates.patterns"',
    expected: /invalid path pattern/,
    given: '"/a/:"',
  },
  {
    name: 'invalidates.tags naming a parameter the path lacks',
    rules: [{ path: '/p/:id', invalidates: { tags: ['p:{params.pid}'] } }],
    where: 'rules[0] (/p/:id): option "invalidates.tags"',
    expected: /names a parameter the path lacks \(it has: id\)/,
    given: '"p:{params.pid}"',
  },
  {
    name: 'invalidates.tags starting with #',
    rules: [{ path: '/p/:id', invalidates: ['#user:bob'] }],
    where: 'rules[0] (/p/:id): option "invalidates.tags"',
    expected: /reserved/,
    given: '"#user:bob"',
  },
  {
    name: 'invalidates.user not a boolean',
    rules: [{ path: '/a', invalidates: { user: 'yes' } }],
    where: 'rules[0] (/a): option "invalidates.user"',
    expected: /expected a boolean/,
    given: 'got "yes"',
  },
]

describe('rule validation', () => {
  test.each(badRules)('$name', ({ rules, defaults, code, where, expected, given }) => {
    const err = thrown(() => new RuleSet(rules, defaults))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe(code ?? 'CACHET_INVALID_RULE')
    expect(err.message.startsWith(`${where}: `) || err.message.startsWith(`${where} (`)).toBe(true)
    expect(err.message).toMatch(expected)
    if (given !== undefined) expect(err.message).toContain(given)
  })
})

interface GoodRule {
  name: string
  rule: CacheRule
  defaults?: RuleDefaults
  expected: Record<string, unknown>
}

/** The compiled rule as plain data (sets as arrays, templates as their sources). */
function plain(rule: CompiledRule): Record<string, unknown> {
  const base = { name: rule.name, path: rule.path, methods: [...rule.methods] }
  if (rule.kind === 'invalidate') {
    const inv = rule.invalidates
    return {
      ...base,
      kind: rule.kind,
      invalidates: {
        tags: inv.tags.map((t) => t.source),
        patterns: inv.patterns,
        user: inv.user,
      },
    }
  }
  return {
    ...base,
    kind: rule.kind,
    ttlMs: rule.ttlMs,
    staleWhileRevalidateMs: rule.staleWhileRevalidateMs,
    staleIfErrorMs: rule.staleIfErrorMs,
    refreshAhead: rule.refreshAhead,
    ttlJitter: rule.ttlJitter,
    lifetimeMs: rule.lifetimeMs,
    statuses: [...rule.statuses],
    maxBodySize: rule.maxBodySize,
    key: rule.key,
    perUser: rule.perUser,
    allowCredentials: rule.allowCredentials,
    tags: rule.tags.map((t) => t.source),
    routeTag: rule.routeTag,
  }
}

const goodRules: GoodRule[] = [
  {
    name: 'defaults of a cache rule',
    rule: { path: '/a', ttl: '60s' },
    expected: {
      kind: 'cache',
      name: 'GET,HEAD /a',
      path: '/a',
      methods: ['GET', 'HEAD'],
      ttlMs: 60_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      refreshAhead: 0,
      ttlJitter: 0,
      lifetimeMs: 60_000,
      statuses: [200],
      maxBodySize: 1024 * 1024,
      key: { query: 'all', headers: [] },
      perUser: false,
      allowCredentials: false,
      tags: [],
      routeTag: '#route:GET,HEAD /a',
    },
  },
  { name: "ttl '5m'", rule: { path: '/a', ttl: '5m' }, expected: { ttlMs: 300_000 } },
  { name: "ttl '500ms'", rule: { path: '/a', ttl: '500ms' }, expected: { ttlMs: 500 } },
  { name: 'ttl 1.5 (seconds)', rule: { path: '/a', ttl: 1.5 }, expected: { ttlMs: 1500 } },
  { name: "ttl '2h'", rule: { path: '/a', ttl: '2h' }, expected: { ttlMs: 7_200_000 } },
  {
    name: 'staleWhileRevalidate in seconds; lifetime is ttl plus the window',
    rule: { path: '/a', ttl: 60, staleWhileRevalidate: 30 },
    expected: { staleWhileRevalidateMs: 30_000, staleIfErrorMs: 0, lifetimeMs: 90_000 },
  },
  {
    name: 'refreshAhead and ttlJitter: fractions, off (0) when absent',
    rule: { path: '/a', ttl: 60, refreshAhead: 0.8, ttlJitter: 0.1 },
    expected: { refreshAhead: 0.8, ttlJitter: 0.1 },
  },
  {
    name: "staleIfError '1h'",
    rule: { path: '/a', ttl: '1m', staleIfError: '1h' },
    expected: { staleWhileRevalidateMs: 0, staleIfErrorMs: 3_600_000, lifetimeMs: 3_660_000 },
  },
  {
    name: 'both stale windows: lifetime is ttl plus the longer one',
    rule: { path: '/a', ttl: 10, staleWhileRevalidate: '500ms', staleIfError: 2.5 },
    expected: { staleWhileRevalidateMs: 500, staleIfErrorMs: 2_500, lifetimeMs: 12_500 },
  },
  {
    name: 'both stale windows, the first longer',
    rule: { path: '/a', ttl: 10, staleWhileRevalidate: '5m', staleIfError: '1m' },
    expected: { staleWhileRevalidateMs: 300_000, staleIfErrorMs: 60_000, lifetimeMs: 310_000 },
  },
  {
    name: 'stale windows of 0 are off',
    rule: { path: '/a', ttl: 10, staleWhileRevalidate: 0, staleIfError: '0s' },
    expected: { staleWhileRevalidateMs: 0, staleIfErrorMs: 0, lifetimeMs: 10_000 },
  },
  {
    name: 'a stale window with the ttl from the engine defaults',
    rule: { path: '/a', staleWhileRevalidate: '1d' },
    defaults: { ttl: '30s' },
    expected: { ttlMs: 30_000, staleWhileRevalidateMs: 86_400_000, lifetimeMs: 86_430_000 },
  },
  {
    name: "maxBodySize '1MiB'",
    rule: { path: '/a', ttl: 1, maxBodySize: '1MiB' },
    expected: { maxBodySize: 1_048_576 },
  },
  {
    name: "maxBodySize '512kb'",
    rule: { path: '/a', ttl: 1, maxBodySize: '512kb' },
    expected: { maxBodySize: 512_000 },
  },
  {
    name: 'methods are upper-cased and name the rule',
    rule: { path: '/a', ttl: 1, methods: ['get'] },
    expected: { methods: ['GET'], name: 'GET /a', routeTag: '#route:GET /a' },
  },
  {
    name: 'statuses listed',
    rule: { path: '/a', ttl: 1, statuses: [200, 404, 301] },
    expected: { statuses: [200, 404, 301] },
  },
  {
    name: 'key.query sorted and de-duplicated; header names lower-cased',
    rule: {
      path: '/a',
      ttl: 1,
      key: {
        query: ['page', 'lang', 'page'],
        headers: ['X-Tenant', 'Accept-Language', 'x-tenant'],
      },
    },
    expected: { key: { query: ['lang', 'page'], headers: ['accept-language', 'x-tenant'] } },
  },
  {
    name: "key.query 'none'",
    rule: { path: '/a', ttl: 1, key: { query: 'none' } },
    expected: { key: { query: 'none', headers: [] } },
  },
  {
    name: 'a given name',
    rule: { path: '/a', ttl: 1, name: 'home' },
    expected: { name: 'home', routeTag: '#route:home' },
  },
  {
    name: 'per-user rule with a {user} tag',
    rule: { path: '/me/orders', ttl: 1, perUser: true, tags: ['orders:{user}'] },
    expected: { perUser: true, tags: ['orders:{user}'] },
  },
  {
    name: 'engine defaults fill what the rule leaves out',
    rule: { path: '/a' },
    defaults: { ttl: '30s', statuses: [200, 404], maxBodySize: '2kb' },
    expected: { ttlMs: 30_000, statuses: [200, 404], maxBodySize: 2000 },
  },
  {
    name: 'the rule wins over the engine defaults',
    rule: { path: '/a', ttl: 5, statuses: [200], maxBodySize: 10 },
    defaults: { ttl: '30s', statuses: [200, 404], maxBodySize: '2kb' },
    expected: { ttlMs: 5000, statuses: [200], maxBodySize: 10 },
  },
  {
    name: 'write rule: defaults and a plain array of tags',
    rule: { path: '/products/:id', invalidates: ['product:{params.id}', 'products'] },
    expected: {
      kind: 'invalidate',
      name: 'POST,PUT,PATCH,DELETE /products/:id',
      methods: ['POST', 'PUT', 'PATCH', 'DELETE'],
      invalidates: { tags: ['product:{params.id}', 'products'], patterns: [], user: false },
    },
  },
  {
    name: 'write rule: full spec; {user} allowed',
    rule: {
      path: '/me/cart',
      methods: ['put'],
      invalidates: { tags: ['cart:{user}'], patterns: ['/me/*rest'], user: true },
    },
    expected: {
      methods: ['PUT'],
      invalidates: { tags: ['cart:{user}'], patterns: ['/me/*rest'], user: true },
    },
  },
]

describe('rule compilation', () => {
  test.each(goodRules)('$name', ({ rule, defaults, expected }) => {
    const compiled = new RuleSet([rule], defaults).rules[0] as CompiledRule
    expect(plain(compiled)).toMatchObject(expected)
  })

  test('a rule compiles its path into a matcher', () => {
    const compiled = new RuleSet([{ path: '/products/:id', ttl: 1 }]).rules[0] as CompiledRule
    expect(compiled.match('/products/7')).toEqual({ id: '7' })
    expect(compiled.match('/products')).toBeUndefined()
  })
})

interface TemplateCase {
  source: string
  vars: { params?: Record<string, string>; query?: string; user?: string }
  expected: string
}

const templates: TemplateCase[] = [
  { source: 'products', vars: {}, expected: 'products' },
  { source: 'product:{params.id}', vars: { params: { id: '7' } }, expected: 'product:7' },
  { source: '{ params.id }-x', vars: { params: { id: '7' } }, expected: '7-x' },
  { source: 'lang:{query.lang}', vars: { query: 'lang=fr&x=1' }, expected: 'lang:fr' },
  { source: 'lang:{query.lang}', vars: {}, expected: 'lang:' },
  { source: 'orders:{user}', vars: { user: 'alice' }, expected: 'orders:alice' },
  {
    source: '{params.id}/{query.v}/{user}',
    vars: { params: { id: 'a' }, query: 'v=2', user: 'u' },
    expected: 'a/2/u',
  },
]

describe('tag templates render', () => {
  test.each(templates)('$source', ({ source, vars, expected }) => {
    const t = compileTemplate(source, { params: new Set(['id']), user: true })
    if (typeof t === 'string') throw new Error(t)
    const rendered = t.render({
      params: vars.params ?? {},
      ...(vars.query !== undefined ? { query: new URLSearchParams(vars.query) } : {}),
      ...(vars.user !== undefined ? { user: vars.user } : {}),
    })
    expect(rendered).toBe(expected)
  })
})
