import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CacheOptions, RequestCache } from '@cachet/core'
import { type CacheHandle, userIdOf } from '@cachet/core/adapter'

type Next = (err?: unknown) => void

/** The verified user of a request, for per-user rules; `undefined` when anonymous. */
export type Identify = (req: IncomingMessage) => string | undefined

export interface ExpressCacheOptions extends CacheOptions {
  /**
   * Returns the app's verified user id. Default: `req.user` when it is a
   * string, or `req.user.id`. Never derive it from a raw header.
   */
  identify?: Identify
}

export interface ExpressCacheMiddleware extends CacheHandle {
  (req: IncomingMessage, res: ServerResponse, next: Next): void
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by cachet on every request that passes its middleware. */
    cache?: RequestCache
  }
}

export function defaultIdentify(req: IncomingMessage): string | undefined {
  return userIdOf((req as { user?: unknown }).user)
}
