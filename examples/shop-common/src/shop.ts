import type { IncomingMessage, ServerResponse } from 'node:http'
import { type RedisTier, redisTier } from '@cachet/core/redis'
import type { ShopConfig } from './config'
import type { OriginState } from './origin-state'
import { rulesFor } from './rules'

// What `createShop()` returns in both apps; `App` is `express.Express` or `Koa`.

export interface ShopInvalidationTarget {
  tags?: string[]
  pattern?: string
  user?: string
}

// The part of the cache middleware that tests and `main.ts` use.
export interface ShopCache {
  // Resolves once the cache has joined its Redis bus (at once without Redis).
  readonly ready: Promise<unknown>
  invalidate(target: ShopInvalidationTarget): Promise<unknown>
  close(): Promise<void>
}

export interface Shop<App> {
  app: App
  // For `http.createServer(shop.handler)`: the app never listens by itself.
  handler: (req: IncomingMessage, res: ServerResponse) => void
  cache: ShopCache
  state: OriginState
  // Releases the cache (timers, connections). Safe to call more than once.
  close(): Promise<void>
}

// What every shop's cache is made with: CONTRACT.md's rules (with
// CACHE_RULE_OPTIONS merged in), the store, and what a write does when Redis
// cannot record its invalidation.
export function shopCacheOptions(config: ShopConfig) {
  return {
    rules: rulesFor(config),
    store: cacheStoreOptions(config),
    onInvalidationFailure: config.onInvalidationFailure,
  }
}

// The cache's store options for `config`: the memory tier alone, or with
// REDIS_URL the memory tier in front of Redis, with Redis's invalidation bus
// (two shops on one Redis form one cache). REDIS_URL is a redis:// URL,
// Cluster seeds ("host:port,host:port") or a sentinel://host:port/name URL.
export function cacheStoreOptions(config: ShopConfig): {
  l1: { maxBytes: number }
  l2?: RedisTier
} {
  const l1 = { maxBytes: config.l1MaxBytes }
  if (config.redisUrl === undefined) return { l1 }
  const l2 = redisTier({
    client: config.redisUrl,
    prefix: config.redisPrefix ?? 'cachet',
    lease: config.redisLease ?? '3s',
    ...(config.redisShards === undefined ? {} : { shards: config.redisShards }),
    ...(config.redisWaitReplicas === undefined
      ? {}
      : { wait: { replicas: config.redisWaitReplicas } }),
  })
  return { l1, l2 }
}

// `close()` for a shop: closes the cache once, and hands later callers the same
// promise, so a test's `afterAll` and a signal handler can both call it.
export function closeOnce(cache: ShopCache): () => Promise<void> {
  let closing: Promise<void> | undefined
  return () => {
    closing ??= cache.close()
    return closing
  }
}
