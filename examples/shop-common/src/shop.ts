import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ShopConfig } from './config'
import type { OriginState } from './origin-state'

// What `createShop()` returns in both apps; `App` is `express.Express` or `Koa`.

export interface ShopInvalidationTarget {
  tags?: string[]
  pattern?: string
  user?: string
}

// The part of the cache middleware that tests and `main.ts` use.
export interface ShopCache {
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

// The cache's store options for `config`. This build has the memory tier only;
// a REDIS_URL is reported once and otherwise ignored, so a start-up script made
// for the Redis build still runs (each process then caches on its own).
export function cacheStoreOptions(
  config: ShopConfig,
  warn: (line: string) => void = (line) => console.error(line),
): { l1: { maxBytes: number } } {
  if (config.redisUrl !== undefined) {
    warn(
      'warning: REDIS_URL is set, but this build serves from the memory tier only; Redis is ignored',
    )
  }
  return { l1: { maxBytes: config.l1MaxBytes } }
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
