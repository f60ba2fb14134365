import { splitAdapterOptions } from '../../src/adapter'
import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError } from '../../src/errors'
import { closestName } from '../../src/options/unknown-option'
import { compilePath } from '../../src/rules/path-pattern'
import { RuleSet } from '../../src/rules/rule-set'
import { thrown } from '../support'

// Config errors name the real mistake: the typo before what it caused, the
// call's shape before its content, and the user's own path pattern.

function configError(fn: () => unknown): string {
  const err = thrown(fn)
  expect(err).toBeInstanceOf(CachetConfigError)
  return err.message
}

describe('an unknown option is reported first, with the option meant', () => {
  test.each<[string, unknown[], string]>([
    [
      'tll instead of ttl (no ttl at all)',
      [{ path: '/x', tll: '5m' }],
      'rules[0] (/x): unknown option "tll" (did you mean "ttl"?)',
    ],
    [
      'TTL in upper case',
      [{ path: '/x', TTL: 60 }],
      'rules[0] (/x): unknown option "TTL" (did you mean "ttl"?)',
    ],
    [
      'pth instead of path (no path at all)',
      [{ pth: '/x', ttl: 60 }],
      'rules[0] (no path): unknown option "pth" (did you mean "path"?)',
    ],
    [
      'methds, on a write rule',
      [{ path: '/x', methds: ['POST'], invalidates: ['x'] }],
      'rules[0] (/x): unknown option "methds" (did you mean "methods"?)',
    ],
    [
      'staleWhileRevalidat',
      [{ path: '/x', ttl: 60, staleWhileRevalidat: 30 }],
      'rules[0] (/x): unknown option "staleWhileRevalidat" (did you mean "staleWhileRevalidate"?)',
    ],
    [
      'invalidate instead of invalidates (no ttl)',
      [{ path: '/x', methods: ['POST'], invalidate: ['x'] }],
      'rules[0] (/x): unknown option "invalidate" (did you mean "invalidates"?)',
    ],
    [
      'key.qurey',
      [{ path: '/x', ttl: 60, key: { qurey: 'none' } }],
      'rules[0] (/x): unknown option "key.qurey" (did you mean "key.query"?)',
    ],
    [
      'invalidates.tag',
      [{ path: '/x', invalidates: { tag: ['x'] } }],
      'rules[0] (/x): unknown option "invalidates.tag" (did you mean "invalidates.tags"?)',
    ],
  ])('%s', (_, rules, message) => {
    expect(configError(() => new RuleSet(rules))).toBe(message)
  })

  test('an option nothing is close to lists the options', () => {
    expect(configError(() => new RuleSet([{ path: '/x', ttl: 60, cacheKey: 'x' }]))).toMatch(
      /^rules\[0\] \(\/x\): unknown option "cacheKey" \(expected one of name, path, methods, ttl, .*\)$/,
    )
  })

  test.each<[string, unknown, string]>([
    [
      'namspace',
      { rules: [], namspace: 'shop' },
      'unknown option "namspace" (did you mean "namespace"?)',
    ],
    ['rule (singular)', { rule: [] }, 'unknown option "rule" (did you mean "rules"?)'],
    [
      'store.ll1',
      { rules: [], store: { ll1: {} } },
      'unknown option "store.ll1" (did you mean "store.l1"?)',
    ],
    [
      'store.l1.maxByte',
      { rules: [], store: { l1: { maxByte: 1 } } },
      'unknown option "store.l1.maxByte" (did you mean "store.l1.maxBytes"?)',
    ],
    [
      'defaults.tll',
      { rules: [], defaults: { tll: 60 } },
      'unknown option "defaults.tll" (did you mean "defaults.ttl"?)',
    ],
    [
      'breaker.failure',
      { rules: [], breaker: { failure: 3 } },
      'unknown option "breaker.failure" (did you mean "breaker.failures"?)',
    ],
  ])('top-level: %s', (_, options, message) => {
    expect(configError(() => new CacheEngine(options))).toBe(message)
  })

  test('an unknown top-level option is reported before missing rules', () => {
    expect(configError(() => new CacheEngine({ rulse: [{ path: '/x', ttl: 60 }] }))).toBe(
      'unknown option "rulse" (did you mean "rules"?)',
    )
  })

  test.each<[string, readonly string[], string | undefined]>([
    ['tll', ['path', 'ttl', 'tags'], 'ttl'],
    ['Path', ['path', 'ttl'], 'path'],
    ['namspace', ['rules', 'namespace'], 'namespace'],
    ['cacheKey', ['path', 'ttl', 'key', 'tags'], undefined],
    ['x', ['path', 'ttl'], undefined],
    ['tag', ['tags', 'ttl'], 'tags'],
  ])('closestName(%p, %p) is %p', (name, known, expected) => {
    expect(closestName(name, known)).toBe(expected)
  })
})

describe('the call itself: rules missing, or a lone rule', () => {
  const identify = () => undefined
  test.each<[string, unknown, string]>([
    [
      'undefined',
      undefined,
      "cacheMiddleware() needs rules: cacheMiddleware([{ path: '/api/*', ttl: '1m' }]) or cacheMiddleware({ rules: [...] }), got undefined",
    ],
    [
      'null',
      null,
      "cacheMiddleware() needs rules: cacheMiddleware([{ path: '/api/*', ttl: '1m' }]) or cacheMiddleware({ rules: [...] }), got null",
    ],
    [
      'a string',
      'GET /x',
      `cacheMiddleware() needs rules: cacheMiddleware([{ path: '/api/*', ttl: '1m' }]) or cacheMiddleware({ rules: [...] }), got "GET /x"`,
    ],
    [
      'a lone cache rule',
      { path: '/x', ttl: '1m' },
      'cacheMiddleware() got a single rule (path "/x"); wrap it in an array: cacheMiddleware([rule])',
    ],
    [
      'a lone write rule',
      { path: '/x', invalidates: ['x'] },
      'cacheMiddleware() got a single rule (path "/x"); wrap it in an array: cacheMiddleware([rule])',
    ],
  ])('%s', (_, input, message) => {
    expect(configError(() => splitAdapterOptions(input as never, identify))).toBe(message)
  })

  test('options without rules', () => {
    expect(configError(() => splitAdapterOptions({ store: {} } as never, identify))).toBe(
      `cacheMiddleware() needs rules: cacheMiddleware([{ path: '/api/*', ttl: '1m' }]) or cacheMiddleware({ rules: [...] }), got an object with keys ["store"]`,
    )
  })

  test("an adapter's own call is named", () => {
    const how = {
      call: 'app.register(plugin)',
      example: 'app.register(plugin, { rules })',
      lone: 'put it in rules',
    }
    expect(configError(() => splitAdapterOptions(undefined as never, identify, how))).toBe(
      'app.register(plugin) needs rules: app.register(plugin, { rules }), got undefined',
    )
    expect(configError(() => splitAdapterOptions({ path: '/x' } as never, identify, how))).toBe(
      'app.register(plugin) got a single rule (path "/x"); put it in rules',
    )
  })

  test('a lone rule as options.rules', () => {
    expect(configError(() => new CacheEngine({ rules: { path: '/x', ttl: '1m' } }))).toBe(
      'option "rules": got a single rule (path "/x"); wrap it in an array: rules: [rule]',
    )
  })
})

describe('path errors show the pattern as written, with the Express 5 syntax', () => {
  test.each<[string, string]>([
    [
      '/p/:id?',
      'unexpected "?" at index 6; an optional parameter is written in braces: "/p{/:id}"',
    ],
    ['/p/:id+', 'unexpected "+" at index 6; one or more segments are a named wildcard: "/p/*id"'],
    [
      '/p/:id*',
      'a wildcard needs text before it at index 6; zero or more segments are an optional named wildcard: "/p{/*id}"',
    ],
    [
      '/files/(.*)',
      'unexpected "(" at index 7; regular expressions are not path syntax, a named wildcard matches the rest: "/files/*rest"',
    ],
    [
      '/p/:id(\\d+)',
      'unexpected "(" at index 6; regular expressions are not path syntax: "/p/:id" (check the value in the route)',
    ],
    [
      '/files/*?',
      'unexpected "?" at index 8; an optional wildcard is written in braces: "/files{/*rest}"',
    ],
    ['/a/**', 'a wildcard needs text before it at index 4; use one wildcard: "/a/*rest"'],
    ['/a/:', 'missing parameter name at index 4; a parameter is ":name", a wildcard "*name"'],
    ['/a{/:b', 'unexpected end at index 6, expected "}"'],
    [
      '/a/?',
      'unexpected "?" at index 3; "?" is not path syntax: "{...}" makes a part optional, "\\?" is a literal "?"',
    ],
  ])('%s', (pattern, problem) => {
    const message = configError(() => new RuleSet([{ path: pattern, ttl: 60 }]))
    expect(message).toBe(
      `rules[0] (${pattern}): option "path": invalid path pattern "${pattern}": ${problem}`,
    )
    expect(message).not.toMatch(/__wildcard|git\.new/)
  })

  test('the same message for invalidates.patterns and compilePath', () => {
    const message = configError(
      () => new RuleSet([{ path: '/x', invalidates: { patterns: ['/files/(.*)'] } }]),
    )
    expect(message).toBe(
      'rules[0] (/x): option "invalidates.patterns": invalid path pattern "/files/(.*)": unexpected "(" at index 7; regular expressions are not path syntax, a named wildcard matches the rest: "/files/*rest"',
    )
    expect(() => compilePath('/files/*?')).toThrow(
      'unexpected "?" at index 8; an optional wildcard is written in braces: "/files{/*rest}"',
    )
  })

  test('a tag naming an unnamed wildcard lists only named parameters', () => {
    const message = configError(
      () => new RuleSet([{ path: '/files/*', ttl: 60, tags: ['f:{params.path}'] }]),
    )
    expect(message).toBe(
      'rules[0] (/files/*): option "tags": {params.path} in "f:{params.path}" names a parameter the path lacks (it has: none; name a wildcard to use it: "*path")',
    )
  })
})
