import type { CacheHandle, CacheOptions, RequestCache } from '@cachet/core'
import { userIdOf } from '@cachet/core/adapter'
import type { FastifyRequest } from 'fastify'

/** The verified user of a request, for per-user rules; `undefined` when anonymous. */
export type Identify = (request: FastifyRequest) => string | undefined

export interface FastifyCacheOptions extends CacheOptions {
  /**
   * Returns the app's verified user id. Default: `request.user` when it is a
   * string, or `request.user.id` (what `@fastify/jwt` and `@fastify/passport`
   * leave there). Never derive it from a raw header.
   */
  identify?: Identify
}

/** `app.cache`: the handle of one cache (invalidate, purge, explain, stats, events, warm, close). */
export type FastifyCache = CacheHandle

/**
 * What `app.register(cachePlugin, options)` takes: the cache's options (at
 * least `rules`), or `{ cache }`, a cache made beforehand with `createCache()`.
 */
export type CachePluginOptions = FastifyCacheOptions | { cache: FastifyCache }

declare module 'fastify' {
  interface FastifyInstance {
    /** The cache `cachePlugin` registered in this context (or an ancestor). */
    cache: CacheHandle
  }
  interface FastifyRequest {
    /** The cache of the context this request was routed in: `request.cache.invalidate(...)`. */
    cache: RequestCache
  }
}

export function defaultIdentify(request: FastifyRequest): string | undefined {
  return userIdOf((request as unknown as { user?: unknown }).user)
}
