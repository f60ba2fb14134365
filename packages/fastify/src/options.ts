import { type CacheRule, CachetConfigError } from '@cachet/core'
import type { CachePluginOptions, FastifyCache, FastifyCacheOptions } from './types'

// What the plugin and `createCache()` take, checked before core sees it, so
// that the message names the call the user wrote.

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (typeof value === 'object') return `an object with keys ${JSON.stringify(Object.keys(value))}`
  if (typeof value === 'string') return JSON.stringify(value)
  return typeof value === 'function' ? 'a function' : String(value)
}

function fail(message: string): never {
  throw new CachetConfigError('CACHET_INVALID_OPTION', message)
}

/** `createCache(rules | options)`: an array of rules, or options with `rules`. */
export function checkCacheInput(input: unknown, call: string, example: string): void {
  if (Array.isArray(input)) return
  if (typeof input !== 'object' || input === null) {
    fail(`${call} needs rules: ${example}, got ${describe(input)}`)
  }
  const object = input as Record<string, unknown>
  if (object.rules === undefined && typeof object.path === 'string') {
    fail(
      `${call} got a single rule (path ${JSON.stringify(object.path)}); put it in a list: { rules: [rule] }`,
    )
  }
  if (object.rules === undefined) fail(`${call} needs rules: ${example}, got ${describe(input)}`)
}

/**
 * The plugin's options: `{ cache }` (a cache from `createCache()`, nothing
 * beside it), or the cache's own options. `isCache` tells a cache made by
 * `createCache()` from anything else.
 */
export function pluginInput(
  options: unknown,
  isCache: (value: unknown) => boolean,
): { cache: FastifyCache } | { options: readonly CacheRule[] | FastifyCacheOptions } {
  const call = 'app.register(cachePlugin, options)'
  if (options !== null && typeof options === 'object' && 'cache' in options) {
    const { cache, ...rest } = options as { cache: unknown }
    if (!isCache(cache)) {
      fail(
        `${call}: option "cache": expected a cache made by createCache(), got ${describe(cache)}`,
      )
    }
    const extra = Object.keys(rest)
    if (extra.length > 0) {
      fail(
        `${call}: option "cache" comes with its own options; pass them to createCache(), not here (got ${JSON.stringify(extra)})`,
      )
    }
    return { cache: cache as FastifyCache }
  }
  checkCacheInput(options, call, 'app.register(cachePlugin, { rules: [...] })')
  return { options: options as Exclude<CachePluginOptions, { cache: FastifyCache }> }
}
