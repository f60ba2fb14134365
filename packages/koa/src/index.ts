export type { Identify, KoaCacheMiddleware, KoaCacheOptions, RequestCache } from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
