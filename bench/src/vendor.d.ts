// Just what the bench uses of three untyped packages.

declare module 'apicache' {
  import type { RequestHandler } from 'express'

  interface ApicacheOptions {
    redisClient?: unknown
    debug?: boolean
  }
  interface Apicache {
    middleware(duration?: string | number): RequestHandler
    options(options: ApicacheOptions): Apicache
  }
  const apicache: Apicache
  export default apicache
}

declare module 'koa-cash' {
  import type { Middleware } from 'koa'

  interface KoaCashOptions {
    get(key: string, maxAge: number): unknown
    set(key: string, value: unknown, maxAge: number): unknown
    setCachedHeader?: boolean
    maxAge?: number
  }
  function koaCash(options: KoaCashOptions): Middleware
  export default koaCash
  module 'koa' {
    interface ExtendableContext {
      cashed(maxAge?: number): Promise<boolean>
    }
  }
}

declare module 'redis' {
  // node-redis 3: the callback client that apicache 1.6 expects (`connected`, `hgetall`).
  interface RedisClient {
    readonly connected: boolean
    once(event: 'ready', listener: () => void): this
    on(event: 'error', listener: (err: Error) => void): this
    quit(callback?: () => void): boolean
  }
  export function createClient(options: { url: string }): RedisClient
}
