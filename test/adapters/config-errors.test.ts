import * as expressPkg from '@cachet/express'
import * as koaPkg from '@cachet/koa'

// Both adapters check what cacheMiddleware() is given before anything else
// (one check in core): no rules at all, or a lone rule instead of an array.

const NEEDS_RULES =
  "cacheMiddleware() needs rules: cacheMiddleware([{ path: '/api/*', ttl: '1m' }]) or cacheMiddleware({ rules: [...] })"
const LONE_RULE =
  'cacheMiddleware() got a single rule (path "/x"); wrap it in an array: cacheMiddleware([rule])'

const adapters = [
  ['express', expressPkg.cacheMiddleware as (input: unknown) => unknown],
  ['koa', koaPkg.cacheMiddleware as (input: unknown) => unknown],
] as const

describe.each(adapters)('%s cacheMiddleware() argument', (_, cacheMiddleware) => {
  function message(input: unknown, code = 'CACHET_INVALID_OPTION'): string {
    try {
      cacheMiddleware(input)
    } catch (err) {
      expect(err).toBeInstanceOf(expressPkg.CachetConfigError)
      expect((err as expressPkg.CachetConfigError).code).toBe(code)
      return (err as Error).message
    }
    throw new Error('expected cacheMiddleware() to throw')
  }

  test('undefined', () => expect(message(undefined)).toBe(`${NEEDS_RULES}, got undefined`))
  test('no argument at all', () => {
    expect(() => (cacheMiddleware as () => unknown)()).toThrow(`${NEEDS_RULES}, got undefined`)
  })
  test('null', () => expect(message(null)).toBe(`${NEEDS_RULES}, got null`))
  test('a lone rule', () => expect(message({ path: '/x', ttl: '1m' })).toBe(LONE_RULE))
  test('a typo in a rule names the typo, not the missing ttl', () => {
    expect(message([{ path: '/x', tll: '5m' }], 'CACHET_INVALID_RULE')).toBe(
      'rules[0] (/x): unknown option "tll" (did you mean "ttl"?)',
    )
  })
})
