export type { CacheHandle, RequestCache } from './adapter/handle'
export { withHandle } from './adapter/handle'
export { splitAdapterOptions, userIdOf } from './adapter/options'
export { conditionalsOf, refreshInBackground, routeConditionals } from './adapter/route-view'
export type { ExplainRequest, Lookup, RefreshClaim, WriteResponse } from './engine/engine'
export { CacheEngine, REVALIDATE_RETRY_MS } from './engine/engine'
export type {
  BreakerEvent,
  CacheEvents,
  CacheStats,
  Explanation,
  InvalidationRecord,
  RevalidateEvent,
  RuleStats,
  StaleEvent,
  TierErrorEvent,
  TierOperation,
} from './engine/events'
export type { Exchange } from './engine/exchange'
export { ruleNeedsUser, splitUrl, withQuery } from './engine/exchange'
export { Fill } from './engine/fill'
export type { InternalRequestInit, InternalResponse } from './engine/internal-request'
export {
  internalExchange,
  internalRequest,
  isInternalRequest,
  serverListener,
} from './engine/internal-request'
export type { InvalidationCounts, Tier } from './engine/metrics'
export { Histogram, LATENCY_BUCKETS, RuleMetrics } from './engine/metrics'
export type { CacheOptions } from './engine/options'
export type { Replay, RevalidatedReplay, StaleReplay } from './engine/replay'
export { replay } from './engine/replay'
export type { BypassReason, CacheOutcome } from './engine/status-headers'
export {
  bypassOutcome,
  CACHE_STATUS_MISS,
  cacheStatusBypass,
  cacheStatusHit,
  cacheStatusStale,
  fillOutcome,
  ONLY_IF_CACHED_UNAVAILABLE,
  WRITE_INVALIDATION_FAILED,
} from './engine/status-headers'
export type { CacheLogger, ReadyStatus } from './engine/tier-log'
export { TIER_LOG_INTERVAL_MS, TierLog } from './engine/tier-log'
export type { CacheEntry } from './entry/entry'
export type { CachetErrorCode } from './errors'
export {
  CachetConfigError,
  CachetError,
  CachetInvalidationError,
  isCachetError,
} from './errors'
export type { CacheControl } from './http/cache-control'
export { parseCacheControl } from './http/cache-control'
export type { Conditionals } from './http/conditional'
export { ifNoneMatchMatches, notModified, strongEtag } from './http/conditional'
export type {
  AgeInput,
  Freshness,
  FreshnessOptions,
  FreshnessSource,
  HeaderRecord,
  HeaderValue,
  ServeRefusal,
  ServeVerdict,
  StoredFreshness,
} from './http/freshness'
export {
  currentAge,
  freshnessLifetime,
  MAX_DELTA_SECONDS,
  parseHttpDate,
  requestAllows,
} from './http/freshness'
export { varyWith } from './http/headers'
export type { ResponseBypassReason } from './http/storable'
export type { InvalidationPlan } from './invalidation/local-state'
export type { InvalidationTarget, NormalizedTarget } from './invalidation/target'
export { normalizeTarget, userTag } from './invalidation/target'
export type { Duration, DurationUnit, Size, SizeUnit } from './options/units'
export { parseDuration, parseSize } from './options/units'
export type { RuleDefaults } from './rules/compile-rule'
export { defaultIgnoredCookies } from './rules/compile-rule'
export { buildKey } from './rules/key'
export type { RequestBypassReason } from './rules/request-filter'
export {
  CLIENT_ADDRESS_HEADERS,
  DEFAULT_PROXY_HEADERS,
  FORWARDING_HEADERS,
  METHOD_OVERRIDE_HEADERS,
  narrowRequest,
  TRANSPORT_HEADERS,
  viewQuery,
} from './rules/request-view'
export { RuleSet } from './rules/rule-set'
export type {
  CacheRule,
  ClientCacheControl,
  CompiledCacheRule,
  CompiledRule,
  CompiledWriteRule,
  InvalidationFailureMode,
  InvalidationSpec,
  RuleKeyOptions,
  RuleMatch,
  RuleMethod,
} from './rules/types'
export type { BreakerOptions, BreakerState } from './tiers/breaker'
export { CircuitBreaker } from './tiers/breaker'
export type { MemoryTierOptions } from './tiers/memory-tier'
export { MemoryTier } from './tiers/memory-tier'
export type {
  CoherenceHooks,
  RemoteFence,
  RemoteRead,
  RemoteTier,
  StoredResponse,
} from './tiers/remote-tier'
export type { TierScope } from './tiers/tier-prefix'
export { TierPrefix } from './tiers/tier-prefix'
export type { TopUrl } from './warm/top-urls'
export type { WarmInput, WarmOptions, WarmProgress, WarmSummary } from './warm/warm'
export { MAX_WARM_CONCURRENCY, MAX_WARM_URLS, warmCache } from './warm/warm'
export { topEndpoint, warmEndpoint } from './warm/warm-endpoint'
