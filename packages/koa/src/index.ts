export type {
  CacheEvents,
  CacheHandle,
  CacheOptions,
  CacheRule,
  CacheStats,
  CachetErrorCode,
  ExplainRequest,
  Explanation,
  InvalidationRecord,
  InvalidationTarget,
  RequestCache,
} from '@cachet/core'
export {
  CachetConfigError,
  CachetError,
  CachetInvalidationError,
  isCachetError,
} from '@cachet/core'
export type { AdminOptions, AdminTokens } from '@cachet/core/admin'
export type { KoaAdminOptions } from './admin'
export { adminMiddleware } from './admin'
export type { Identify, KoaCacheMiddleware, KoaCacheOptions } from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
