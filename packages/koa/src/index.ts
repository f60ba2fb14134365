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
export type { KoaAdminOptions } from './admin'
export { adminMiddleware } from './admin'
export type { Identify, KoaCacheMiddleware, KoaCacheOptions } from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
