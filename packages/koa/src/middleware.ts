import type { RequestListener } from 'node:http'
import type { CacheRule, RequestCache } from '@cachet/core'
import {
  CacheEngine,
  handleRequest,
  serverListener,
  splitAdapterOptions,
  withHandle,
} from '@cachet/core/adapter'
import type Application from 'koa'
import type { Context, Next } from 'koa'
import { KoaPort } from './port'
import { defaultIdentify, type KoaCacheMiddleware, type KoaCacheOptions } from './types'

const listeners = new WeakMap<Application, ReturnType<Application['callback']>>()

/** The app's request listener, for internal requests when the server's is unknown. */
function appListener(app: Application): ReturnType<Application['callback']> {
  let listener = listeners.get(app)
  if (listener === undefined) {
    listener = app.callback()
    listeners.set(app, listener)
  }
  return listener
}

/**
 * `app.use(cacheMiddleware(rules))` for Koa: answers hits without running
 * downstream middleware, records misses from `ctx.body`, and runs a write
 * rule's invalidation before a 2xx write is answered. The flow and its
 * decisions are core's (`handleRequest`); the port carries them out on `ctx`.
 */
export function cacheMiddleware(input: readonly CacheRule[] | KoaCacheOptions): KoaCacheMiddleware {
  const [options, identify] = splitAdapterOptions(input, defaultIdentify)
  const engine = new CacheEngine(options)
  const requestCache: RequestCache = { invalidate: (target) => engine.invalidate(target) }
  /** The app, as the first request saw it: what `cache.warm()` sends its requests through. */
  let listener: RequestListener | undefined
  const firstListener = () => listener

  const middleware = async function cachetMiddleware(ctx: Context, next: Next): Promise<void> {
    ctx.cache = requestCache
    if (listener === undefined) listener = serverListener(ctx.req) ?? appListener(ctx.app)
    await handleRequest<void | Promise<void>>(
      engine,
      new KoaPort(ctx, next, identify, firstListener),
    )
  }

  return withHandle(middleware, engine, firstListener)
}
