import type { CacheOptions, RequestCache } from '@cachet/core'
import { type CacheHandle, userIdOf } from '@cachet/core/adapter'
import type { Context, Middleware } from 'koa'

/** The verified user of a request, for per-user rules; `undefined` when anonymous. */
export type Identify = (ctx: Context) => string | undefined

export interface KoaCacheOptions extends CacheOptions {
  /**
   * Returns the app's verified user id. Default: `ctx.state.user` when it is a
   * string, or `ctx.state.user.id`. Never derive it from a raw header.
   */
  identify?: Identify
}

export type KoaCacheMiddleware = Middleware & CacheHandle

declare module 'koa' {
  interface ExtendableContext {
    /** Set by cachet on every request that passes its middleware. */
    cache?: RequestCache
  }
}

export function defaultIdentify(ctx: Context): string | undefined {
  return userIdOf(ctx.state?.user)
}
