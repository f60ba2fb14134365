import type { ServerResponse } from 'node:http'
import type { CacheRule, RequestCache } from '@cachet/core'
import { CacheEngine, handleRequest, splitAdapterOptions, withHandle } from '@cachet/core/adapter'
import { ExpressPort, type ExpressRequest, listenerOf, type Next } from './port'
import { defaultIdentify, type ExpressCacheMiddleware, type ExpressCacheOptions } from './types'

type RequestListener = (req: ExpressRequest, res: ServerResponse) => void

/**
 * `app.use(cacheMiddleware(rules))`: answers hits without running the route,
 * records misses as they stream to the client, and holds a write's 2xx until
 * the write rule's invalidation is done. The flow and its decisions are
 * core's (`handleRequest`); this port writes, captures and calls `next`.
 */
export function cacheMiddleware(
  input: readonly CacheRule[] | ExpressCacheOptions,
): ExpressCacheMiddleware {
  const [options, identify] = splitAdapterOptions(input, defaultIdentify)
  const engine = new CacheEngine(options)
  const requestCache: RequestCache = { invalidate: (target) => engine.invalidate(target) }
  /** The app, as the first request saw it: what `cache.warm()` sends its requests through. */
  let appListener: RequestListener | undefined

  const middleware = function cachetMiddleware(
    req: ExpressRequest,
    res: ServerResponse,
    next: Next,
  ) {
    req.cache = requestCache
    if (appListener === undefined) appListener = listenerOf(req)
    void handleRequest(engine, new ExpressPort(req, res, next, identify))
  }

  return withHandle(middleware, engine, () => appListener) as ExpressCacheMiddleware
}
