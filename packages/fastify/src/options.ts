import { type CacheRule, CachetConfigError } from '@cachet/core'
import { describeValue, type RulesCall } from '@cachet/core/adapter'
import type { CachePluginOptions, FastifyCache, FastifyCacheOptions } from './types'

// The plugin's and `createCache()`'s calls as core's messages name them: core
// checks the rules and options, the plugin only what is its own (`{ cache }`).

/** `app.register(cachePlugin, options)`: Fastify hands a plugin an object, so a lone rule goes in `rules`. */
export const PLUGIN_CALL: RulesCall = {
  call: 'app.register(cachePlugin, options)',
  example: 'app.register(cachePlugin, { rules: [...] })',
  lone: 'put it in a list: { rules: [rule] }',
}

/** `createCache(rules | options)`. */
export const CREATE_CALL: RulesCall = {
  call: 'createCache()',
  example: 'createCache({ rules: [...] })',
  lone: 'put it in a list: createCache([rule])',
}

function fail(message: string): never {
  throw new CachetConfigError('CACHET_INVALID_OPTION', message)
}

/**
 * The plugin's options: `{ cache }` (a cache from `createCache()`, nothing
 * beside it), or the cache's own options, which core checks. `isCache` tells a
 * cache made by `createCache()` from anything else.
 */
export function pluginInput(
  options: unknown,
  isCache: (value: unknown) => boolean,
): { cache: FastifyCache } | { options: readonly CacheRule[] | FastifyCacheOptions } {
  if (options !== null && typeof options === 'object' && 'cache' in options) {
    const { cache, ...rest } = options as { cache: unknown }
    if (!isCache(cache)) {
      const given =
        cache !== null && typeof cache === 'object' && !Array.isArray(cache)
          ? `an object with keys ${JSON.stringify(Object.keys(cache))}`
          : describeValue(cache)
      fail(
        `${PLUGIN_CALL.call}: option "cache": expected a cache made by createCache(), got ${given}`,
      )
    }
    const extra = Object.keys(rest)
    if (extra.length > 0) {
      fail(
        `${PLUGIN_CALL.call}: option "cache" comes with its own options; pass them to createCache(), not here (got ${JSON.stringify(extra)})`,
      )
    }
    return { cache: cache as FastifyCache }
  }
  return { options: options as Exclude<CachePluginOptions, { cache: FastifyCache }> }
}
