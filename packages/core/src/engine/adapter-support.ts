import { CachetConfigError } from '../errors'
import type { InvalidationTarget } from '../invalidation/target'
import type { CacheRule } from '../rules/types'
import type { CacheEngine } from './engine'
import type { CacheOptions } from './options'

/** What a request handler can reach as `req.cache` (Express) or `ctx.cache` (Koa). */
export interface RequestCache {
  invalidate(target: InvalidationTarget): Promise<void>
}

/** What both adapters' middleware functions carry beside being middleware. */
export interface CacheHandle extends RequestCache {
  readonly engine: CacheEngine
  /** Resolves once the shared tier's bus is connected (immediately without one). Never rejects. */
  readonly ready: Promise<void>
  close(): Promise<void>
}

/**
 * Gives a middleware function its handle: `engine`, `ready`, `invalidate`,
 * `close`. Starting the engine here means a shared tier that is down at
 * start-up never stops the app: requests are answered (from the origin)
 * while the bus keeps trying.
 */
export function withHandle<F extends object>(middleware: F, engine: CacheEngine): F & CacheHandle {
  const ready = engine.start().catch(() => {})
  return Object.defineProperties(middleware, {
    engine: { value: engine },
    ready: { value: ready },
    invalidate: { value: (target: InvalidationTarget) => engine.invalidate(target) },
    close: { value: () => engine.close() },
  }) as F & CacheHandle
}

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
 */
export function splitAdapterOptions<F extends (request: never) => string | undefined>(
  input: readonly CacheRule[] | (CacheOptions & { identify?: F }),
  fallback: F,
): [CacheOptions, F] {
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
