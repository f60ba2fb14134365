export type { CacheHandle, RequestCache } from '@cachet/core'
export type { ExpressCacheMiddleware, ExpressCacheOptions, Identify } from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
