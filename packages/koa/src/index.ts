export type {
  CacheEvents,
  CacheHandle,
  CacheLogger,
  CacheOptions,
  CacheRule,
  CacheStats,
  CachetErrorCode,
  ClientCacheControl,
  Duration,
  ExplainRequest,
  Explanation,
  InvalidationFailureMode,
  InvalidationRecord,
  InvalidationTarget,
  ReadyStatus,
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
export { cacheMiddleware } from './middleware'
export type { Identify, KoaCacheMiddleware, KoaCacheOptions } from './types'
export { defaultIdentify } from './types'
