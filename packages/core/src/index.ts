/**
 * `@cachet/core`: what app code uses — the options and rules it writes, the
 * handle its cache middleware returns (and the events, stats and
 * explanations it gives), and the errors it throws. The adapters
 * (`@cachet/express`, `@cachet/koa`) re-export all of it. Building blocks
 * for adapters and tiers are on `@cachet/core/adapter`; test helpers on
 * `@cachet/core/testing`.
 */

// The handle: `req.cache` / `ctx.cache`, and the middleware itself.
export type { CacheHandle, RequestCache } from './adapter/handle'
export type { DiskTierOptions } from './disk/options'
export type { ExplainRequest } from './engine/engine'
// Errors: every one cachet throws is a `CachetError` with a `code`.
export type { CachetErrorCode } from './errors'
export { CachetConfigError, CachetError, CachetInvalidationError, isCachetError } from './errors'
export type { InvalidationTarget } from './invalidation/target'
export type {
  BreakerEvent,
  CacheEvents,
  CacheStats,
  Explanation,
  InvalidationRecord,
  RevalidateEvent,
  RuleStats,
  StaleEvent,
  StaleReason,
  TierErrorEvent,
  TierOperation,
  WarmProgress,
} from './observe/events'
export type { CacheLogger, ReadyStatus } from './observe/tier-log'
// Options and rules: what `cacheMiddleware(...)` takes.
export type { CacheOptions } from './options/cache-options'
export type { Duration, DurationUnit, Size, SizeUnit } from './options/units'
export { parseDuration, parseSize } from './options/units'
export type { RuleDefaults } from './rules/compile-rule'
export { defaultIgnoredCookies } from './rules/compile-rule'
export type { OriginTimeoutOptions } from './rules/origin-timeout'
export type {
  CacheRule,
  ClientCacheControl,
  InvalidationFailureMode,
  InvalidationSpec,
  RuleKeyOptions,
  RuleMethod,
} from './rules/types'
export type { BreakerOptions } from './tiers/breaker'
export type { MemoryTierOptions } from './tiers/memory-tier'
/** The shared tier `store.l2` takes: `redisTier(...)` (`@cachet/core/redis`) or `keyvTier(...)`. */
export type { DiskStats, RemoteTier } from './tiers/remote-tier'
export type { WarmInput, WarmOptions, WarmSummary } from './warm/warm'
