import type { CacheHandle, CacheRule } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import type { CacheOptions } from '../src/options/cache-options'
import type { Duration } from '../src/options/units'
import { parseDuration } from '../src/options/units'
import { compileRule } from '../src/rules/compile-rule'
import type { RuleMethod } from '../src/rules/types'

// Type-level tests: `tsc -b` (the build step of `npm test`, through
// tsconfig.test.json) compiles this file. Each `@ts-expect-error` line is a
// typo the types must catch: if the types stop catching it, the directive is
// unused and the build fails (TS2578). The function is never called.
function typeLevel(handle: CacheHandle): void {
  const good: CacheRule[] = [
    { path: '/a', ttl: 60 },
    { path: '/a', ttl: '60' },
    { path: '/a', ttl: '500ms' },
    { path: '/a', ttl: '1.5s' },
    { path: '/a', ttl: '5m' },
    { path: '/a', ttl: '5 m' },
    { path: '/a', ttl: '1h' },
    { path: '/a', ttl: '1d' },
    { path: '/a', ttl: 'origin', maxTtl: '1h' },
    { path: '/a', ttl: '1m', staleWhileRevalidate: '30s', staleIfError: 600 },
    { path: '/a', methods: ['GET', 'HEAD'], ttl: '1m' },
    { path: '/a', methods: ['get'], ttl: '1m' },
    { path: '/a', methods: ['POST', 'put', 'PATCH', 'delete'], invalidates: ['a'] },
  ]
  // @ts-expect-error '5 minutes' is not a duration
  const minutes: CacheRule = { path: '/a', ttl: '5 minutes' }
  // @ts-expect-error '5mins' is not a duration
  const mins: CacheRule = { path: '/a', ttl: '5mins' }
  // @ts-expect-error units are lower case
  const upper: CacheRule = { path: '/a', ttl: '5M' }
  // @ts-expect-error 'sec' is not a unit
  const swr: CacheRule = { path: '/a', ttl: 60, staleWhileRevalidate: '30sec' }
  // @ts-expect-error 'hour' is not a unit
  const sie: CacheRule = { path: '/a', ttl: 60, staleIfError: '1hour' }
  // @ts-expect-error 'min' is not a unit
  const maxTtl: CacheRule = { path: '/a', ttl: 'origin', maxTtl: '1min' }
  // @ts-expect-error 'GETT' is not a method
  const method: CacheRule = { path: '/a', methods: ['GETT'], ttl: 60 }
  // @ts-expect-error a method name, not a list in one string
  const list: CacheRule = { path: '/a', methods: ['GET,HEAD'], ttl: 60 }
  // @ts-expect-error 'tll' is not an option
  const tll: CacheRule = { path: '/a', tll: '5m' }
  const options: CacheOptions = {
    rules: good,
    defaults: { ttl: '1m' },
    coalesce: { maxWait: '2s' },
    breaker: { cooldown: '500ms', maxCooldown: '5s' },
    warm: { save: '30s', ttl: '7d' },
  }
  // @ts-expect-error 'secs' is not a unit
  const badDefault: CacheOptions = { rules: good, defaults: { ttl: '60secs' } }
  // @ts-expect-error 'sec' is not a unit
  const badWait: CacheOptions = { rules: good, coalesce: { maxWait: '2sec' } }

  handle.on('hit', (event) => {
    const tier: 'memory' | 'shared' = event.tier
    void tier
  })
  handle.on('miss', (event) => {
    const seconds: number = event.originSeconds
    void seconds
  })
  handle.on('invalidate', (record) => {
    const ok: boolean = record.ok
    void ok
  })
  // @ts-expect-error 'hitt' is not an event
  handle.on('hitt', () => {})
  // @ts-expect-error a hit has no originSeconds
  handle.on('hit', (event) => event.originSeconds)
  // @ts-expect-error 'misss' is not an event
  handle.off('misss', () => {})
  // @ts-expect-error 'hitt' is not an event
  handle.engine.on('hitt', () => {})

  const express = expressCache(good)
  express.on('store', (event) => void event.tier)
  // @ts-expect-error 'stor' is not an event
  express.on('stor', () => {})
  const koa = koaCache({ rules: good })
  koa.on('bypass', (event) => void event.reason)
  // @ts-expect-error 'bypas' is not an event
  koa.on('bypas', () => {})

  void [minutes, mins, upper, swr, sie, maxTtl, method, list, tll, options]
  void [badDefault, badWait]
}

describe('types', () => {
  test('the type-level checks above are compiled by tsc -b (tsconfig.test.json)', () => {
    expect(typeof typeLevel).toBe('function')
  })
})

// The duration type and the runtime parser agree: each string the type
// accepts parses, and each the type rejects is refused.
const accepted: Duration[] = ['60', '0.5', '500ms', '1.5s', '60s', '5m', '5 m', '1h', '1d', 30]
const refused: string[] = ['5 minutes', '5mins', '5M', '30sec', '1hour', '1min', '2 weeks', 'm']
// Each refused sample is also a type error (checked by tsc -b through these lines).
// @ts-expect-error '5 minutes' is not a Duration
const minutesType: Duration = '5 minutes'
// @ts-expect-error 'm' alone is not a Duration
const unitOnlyType: Duration = 'm'
// @ts-expect-error '2 weeks' is not a Duration
const weeksType: Duration = '2 weeks'

describe('the Duration type and parseDuration agree', () => {
  test.each(accepted.map((d) => [d]))('%p is accepted by both', (duration) => {
    expect(typeof parseDuration(duration)).toBe('number')
    const rule = compileRule({ path: '/a', ttl: duration }, 0, {})
    expect(rule.kind).toBe('cache')
  })

  test.each(refused.map((d) => [d]))('%p is refused at runtime too', (duration) => {
    expect(parseDuration(duration)).toMatch(/expected seconds \(a number\) or a duration string/)
    expect(() => compileRule({ path: '/a', ttl: duration }, 0, {})).toThrow(/option "ttl"/)
  })

  test('the type-level samples are the refused ones', () => {
    expect(refused).toEqual(expect.arrayContaining([minutesType, unitOnlyType, weeksType]))
  })
})

// The method type is what compileRule accepts: these names, in upper or lower case.
const methods: RuleMethod[] = ['GET', 'HEAD', 'get', 'head']
const writeMethods: RuleMethod[] = ['POST', 'PUT', 'PATCH', 'DELETE', 'post', 'delete']

describe('the RuleMethod type and compileRule agree', () => {
  test.each(methods.map((m) => [m]))('cache rule method %p is accepted', (m) => {
    const rule = compileRule({ path: '/a', methods: [m], ttl: 60 }, 0, {})
    expect([...rule.methods]).toEqual([m.toUpperCase()])
  })

  test.each(writeMethods.map((m) => [m]))('write rule method %p is accepted', (m) => {
    const rule = compileRule({ path: '/a', methods: [m], invalidates: ['t'] }, 0, {})
    expect([...rule.methods]).toEqual([m.toUpperCase()])
  })

  test.each([['GETT'], ['OPTIONS'], ['TRACE']])('%p is refused', (m) => {
    expect(() => compileRule({ path: '/a', methods: [m], ttl: 60 }, 0, {})).toThrow(
      /option "methods"/,
    )
  })
})
