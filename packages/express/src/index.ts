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
export type { ExpressAdminRouter } from './admin'
export { adminRouter } from './admin'
export type { ExpressCacheMiddleware, ExpressCacheOptions, Identify } from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
