import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { CacheRule, RequestCache } from '@cachet/core'
import { CacheEngine, type RulesCall, splitAdapterOptions, withHandle } from '@cachet/core/adapter'
import { CREATE_CALL } from './options'
import {
  defaultIdentify,
  type FastifyCache,
  type FastifyCacheOptions,
  type Identify,
} from './types'

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/** What the plugin's hooks need of a cache, beside its public handle. */
export interface CacheParts {
  readonly engine: CacheEngine
  readonly identify: Identify
  readonly requestCache: RequestCache
  /**
   * The app's request listener, for the cache's own requests (a background
   * refresh, `warm()`): the router of the first app the cache is registered
   * in, then the listener of the server of the first request it sees.
   */
  listener: Listener | undefined
}

const parts = new WeakMap<FastifyCache, CacheParts>()

/** The parts of a cache made by `createCache()`; `undefined` for anything else. */
export function partsOf(cache: unknown): CacheParts | undefined {
  return typeof cache === 'object' && cache !== null ? parts.get(cache as FastifyCache) : undefined
}

/**
 * `createCache(rules | options)`: a cache to register with
 * `app.register(cachePlugin, { cache })`, for an app that needs the handle
 * before Fastify has loaded its plugins (to export it from a module, or hand
 * it to `adminPlugin` at once). `app.register(cachePlugin, { rules })` makes
 * one itself. The shared tier starts connecting here; `cache.ready` says when
 * it has.
 */
export function createCache(input: readonly CacheRule[] | FastifyCacheOptions): FastifyCache {
  return makeCache(input, CREATE_CALL)
}

/** A cache, its bad input named after `how` (`createCache()`, or the plugin's call). */
export function makeCache(
  input: readonly CacheRule[] | FastifyCacheOptions,
  how: RulesCall,
): FastifyCache {
  const [options, identify] = splitAdapterOptions(input, defaultIdentify, how)
  const engine = new CacheEngine(options)
  const own: CacheParts = {
    engine,
    identify,
    requestCache: { invalidate: (target) => engine.invalidate(target) },
    listener: undefined,
  }
  const cache = withHandle({}, engine, () => own.listener as RequestListener | undefined)
  parts.set(cache, own)
  return cache
}
