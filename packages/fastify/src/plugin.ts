import { CachetConfigError } from '@cachet/core'
import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import { makeCache, partsOf } from './cache'
import { addCacheHooks } from './hooks'
import { PLUGIN_CALL, pluginInput } from './options'
import type { CachePluginOptions } from './types'

function install(fastify: FastifyInstance, options: CachePluginOptions): void {
  if (fastify.hasDecorator('cache') || fastify.hasRequestDecorator('cache')) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      'cachePlugin: this Fastify context already has a "cache" decorator (the plugin is registered twice here, or another plugin took the name)',
    )
  }
  const input = pluginInput(options, (value) => partsOf(value) !== undefined)
  const own = 'options' in input
  const cache = own ? makeCache(input.options, PLUGIN_CALL) : input.cache
  const parts = partsOf(cache)
  if (parts === undefined) throw new Error('cachet: a cache without its parts')
  fastify.decorate('cache', cache)
  const { requestCache } = parts
  fastify.decorateRequest('cache', {
    getter() {
      return requestCache
    },
  })
  addCacheHooks(fastify, parts)
  // A cache the plugin made is the app's to close; one passed in is its maker's.
  if (own) fastify.addHook('onClose', () => cache.close())
}

function cachet(
  fastify: FastifyInstance,
  options: CachePluginOptions,
  done: (err?: Error) => void,
) {
  // A bad option fails `register` (and so `ready()`) with the option's message.
  try {
    install(fastify, options)
  } catch (err) {
    done(err as Error)
    return
  }
  done()
}

/**
 * `await app.register(cachePlugin, { rules })`: the response cache for the
 * context it is registered in and the contexts inside it, at the root for the
 * whole app. Hits are answered in an `onRequest` hook, before the body is
 * parsed, validated or handed to a handler; misses are recorded from what the
 * route sends, whatever its kind; a write rule's 2xx waits for its
 * invalidation. `app.cache` is the cache's handle (`invalidate`, `purge`,
 * `explain`, `stats`, `on`, `ready`, `warm`, `close`), `request.cache` its
 * `invalidate`. `{ cache }` registers a cache from `createCache()` instead.
 * `app.close()` closes a cache the plugin made.
 */
export const cachePlugin: FastifyPluginCallback<CachePluginOptions> = fp(cachet, {
  fastify: '5.x',
  name: '@cachet/fastify',
})
