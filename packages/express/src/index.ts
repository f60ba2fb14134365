export type {
  CacheEvents,
  CacheHandle,
  CacheOptions,
  CacheRule,
  CacheStats,
  CachetErrorCode,
  Duration,
  ExplainRequest,
  Explanation,
  InvalidationFailureMode,
  InvalidationRecord,
  InvalidationTarget,
  RequestCache,
  RuleMethod,
  Size,
} from '@cachet/core'
export {
  CachetConfigError,
  CachetError,
  CachetInvalidationError,
  defaultIgnoredCookies,
  isCachetError,
} from '@cachet/core'
export type { AdminOptions, AdminTokens } from '@cachet/core/admin'
export type { ExpressAdminRouter } from './admin'
export { adminRouter } from './admin'
export type { ExpressCacheMiddleware, ExpressCacheOptions, Identify } from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
