export type { CacheHandle, RequestCache } from '@cachet/core'
export type { Identify, KoaCacheMiddleware, KoaCacheOptions } from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
