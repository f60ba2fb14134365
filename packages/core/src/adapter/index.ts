/**
 * `@cachet/core/adapter`: what a framework adapter is built from. The request
 * flow (`handleRequest`) runs in core; an adapter implements a `RequestPort`
 * (a view of the request and the few things only the framework can do) and
 * captures its framework's response into the `Fill` it is given.
 */

// The engine's own types, for adapters, the CLI and the bench harness.
export type { ExplainRequest, Lookup, RefreshClaim, WriteResponse } from '../engine/engine'
export { CacheEngine, REVALIDATE_RETRY_MS } from '../engine/engine'
export type { Exchange } from '../engine/exchange'
export { ruleNeedsUser, splitUrl, withQuery } from '../engine/exchange'
export type { Fill } from '../engine/fill'
export { isInternalRequest, serverListener } from '../engine/internal-request'
export type { Replay } from '../engine/replay'
export { fillOutcome } from '../engine/status-headers'
export type { CacheEntry } from '../entry/entry'
export { describeValue } from '../errors'
export type { Conditionals } from '../http/conditional'
export type { ResponseBypassReason } from '../http/storable'
// Invalidation plumbing (the `cachet` CLI applies invalidations itself).
export type { InvalidationPlan } from '../invalidation/local-state'
export type { NormalizedTarget } from '../invalidation/target'
export { normalizeTarget, tenantTag, userTag } from '../invalidation/target'
export type { RulesCall } from '../options/cache-options'
export type {
  CompiledCacheRule,
  CompiledRule,
  CompiledWriteRule,
  RuleMatch,
} from '../rules/types'
// Writing a shared tier: the contract `store.l2` takes, and its parts.
export type {
  CoherenceHooks,
  RemoteFence,
  RemoteRead,
  RemoteTier,
  StoredResponse,
} from '../tiers/remote-tier'
export type { TierScope } from '../tiers/tier-prefix'
export { TierPrefix } from '../tiers/tier-prefix'
export type { ResponseHeaders } from './capture'
export {
  announce,
  captureWhole,
  decideAtHeaders,
  nodeHeaders,
  replacementFor,
  teeIntoFill,
} from './capture'
export { handleRequest } from './flow'
export type { CacheHandle, RequestCache } from './handle'
export { withHandle } from './handle'
export { splitAdapterOptions, userIdOf } from './options'
export type { HeldWrite, MissView, RequestPort } from './port'
export { conditionalsOf, refreshInBackground, routeConditionals } from './route-view'
