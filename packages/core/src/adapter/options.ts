import { CachetConfigError } from '../errors'
import { type CacheOptions, checkMiddlewareInput, type RulesCall } from '../options/cache-options'
import type { CacheRule } from '../rules/types'

/**
 * The user id in what an app's auth left on the request: a string, or an
 * object with an `id`. Both adapters' default `identify` read it.
 */
export function userIdOf(user: unknown): string | undefined {
  if (typeof user === 'string') return user
  if (user !== null && typeof user === 'object') {
    const id = (user as { id?: unknown }).id
    if (typeof id === 'string' || typeof id === 'number') return String(id)
  }
  return undefined
}

/**
 * Splits what an adapter's `cacheMiddleware()` takes (rules, or options with
 * an adapter-specific `identify`) into the engine's options and `identify`.
 * `how` names the adapter's call in the messages (default `cacheMiddleware()`).
 */
export function splitAdapterOptions<F extends (request: never) => string | undefined>(
  input: readonly CacheRule[] | (CacheOptions & { identify?: F }),
  fallback: F,
  how?: RulesCall,
): [CacheOptions, F] {
  checkMiddlewareInput(input, how)
  if (Array.isArray(input)) return [{ rules: input }, fallback]
  const { identify = fallback, ...options } = input as CacheOptions & { identify?: F }
  if (typeof identify !== 'function') {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      'option "identify": expected a function returning the user id',
    )
  }
  return [options, identify]
}
