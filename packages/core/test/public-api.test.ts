import * as root from '@cachet/core'
import * as adapter from '@cachet/core/adapter'
import * as express from '@cachet/express'
import * as koa from '@cachet/koa'

/**
 * The root export is what app code uses: its values are listed here, so that
 * adding one is a decision (and a line in the docs), not an accident. Types
 * are checked by `tsc -b` (packages/core/test/types.test.ts and the docs).
 */
describe('the public API', () => {
  it('the root exports only app-facing values', () => {
    expect(Object.keys(root).sort()).toEqual([
      'CachetConfigError',
      'CachetError',
      'CachetInvalidationError',
      'defaultIgnoredCookies',
      'isCachetError',
      'parseDuration',
      'parseSize',
    ])
  })

  it('each adapter re-exports the whole root beside its own middleware', () => {
    for (const pkg of [express, koa] as Record<string, unknown>[]) {
      for (const name of Object.keys(root))
        expect([name, pkg[name]]).toEqual([name, (root as Record<string, unknown>)[name]])
    }
    expect(typeof express.cacheMiddleware).toBe('function')
    expect(typeof express.adminRouter).toBe('function')
    expect(typeof koa.cacheMiddleware).toBe('function')
    expect(typeof koa.adminMiddleware).toBe('function')
  })

  it('adapter plumbing lives on @cachet/core/adapter, not the root', () => {
    for (const name of [
      'handleRequest',
      'withHandle',
      'CacheEngine',
      'replacementFor',
      'captureWhole',
    ]) {
      expect([name, typeof (adapter as Record<string, unknown>)[name]]).toEqual([name, 'function'])
      expect([name, name in root]).toEqual([name, false])
    }
  })
})
