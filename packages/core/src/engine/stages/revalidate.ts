import type { CacheEntry } from '../../entry/entry'
import { hit, servedStale } from '../../observe/outcomes'
import type { CompiledCacheRule } from '../../rules/types'
import { refreshDue } from '../stale-windows'
import type { EngineState, Lookup, RefreshClaim } from './state'

// The revalidate stage (stale-while-revalidate): a stale answer, and the
// claim on the one background refresh of its key, from its start to its end
// (the refresh itself is refresh.ts').

/** After a background refresh that stored nothing, how long before another may start. */
export const REVALIDATE_RETRY_MS = 1000

/** Keys whose background refresh is tracked at once; the oldest are forgotten first. */
const MAX_REVALIDATIONS = 10_000

/** A stale-while-revalidate answer; the first one in a while also starts the refresh. */
export function staleRevalidate(
  s: EngineState,
  rule: CompiledCacheRule,
  key: string,
  entry: CacheEntry,
  now: number,
): Lookup {
  const refresh = claimRevalidation(s, key, now)
  if (refresh !== undefined) s.counters.revalidations.started++
  servedStale(s, rule, 'revalidate', entry, now)
  return { type: 'stale', entry, reason: 'revalidate', refresh }
}

/** Whether a hit on `key` now would start a refresh ahead of expiry (none is under way). */
export function refreshAheadClaimable(
  s: EngineState,
  rule: CompiledCacheRule,
  entry: CacheEntry,
  now: number,
): boolean {
  if (!refreshDue(rule, entry, now)) return false
  const current = s.revalidations.get(entry.key)
  return current === undefined || now >= current.until
}

/**
 * A fresh hit; past the rule's `refreshAhead` point, the first one in a
 * while also claims the background refresh of its key (as a stale answer
 * does), while the copy is still fresh.
 */
export function freshHit(
  s: EngineState,
  rule: CompiledCacheRule,
  key: string,
  entry: CacheEntry,
  tier: 'memory' | 'shared',
  now: number,
): Lookup {
  const found = hit(s, rule, entry, tier)
  if (!refreshDue(rule, entry, now)) return found
  const refresh = claimRevalidation(s, key, now)
  if (refresh === undefined) return found
  s.counters.revalidations.started++
  s.counters.revalidations.ahead++
  return { type: 'hit', entry, refresh }
}

/** A claim on the refresh of `key` when none is under way (or recently failed). */
function claimRevalidation(s: EngineState, key: string, now: number): RefreshClaim | undefined {
  const current = s.revalidations.get(key)
  if (current !== undefined && now < current.until) return undefined
  // Under way until its fill completes; a refresh that never reports back
  // (a request the app never answered) is given up after the longest wait.
  const claim = { key, until: now + s.abandonFlightMs }
  s.revalidations.delete(key)
  s.revalidations.set(key, claim)
  if (s.revalidations.size > MAX_REVALIDATIONS) {
    const oldest = s.revalidations.keys().next().value
    if (oldest !== undefined) s.revalidations.delete(oldest)
  }
  return claim
}

/** The refresh of `key` is over: another may start at once, or after `REVALIDATE_RETRY_MS`. */
export function endRevalidation(
  s: EngineState,
  key: string,
  outcome: 'stored' | 'not-stored' | 'skipped',
  rule: string,
): void {
  if (outcome === 'not-stored')
    s.revalidations.set(key, { key, until: Date.now() + REVALIDATE_RETRY_MS })
  else s.revalidations.delete(key)
  const c = s.counters.revalidations
  if (outcome === 'stored') c.stored++
  else if (outcome === 'not-stored') c.notStored++
  else c.skipped++
  if (s.events.listenerCount('revalidate') > 0) s.events.emit('revalidate', { rule, outcome })
}

/**
 * The adapter's internal request for `claim` has ended. When it never
 * reached the cache (the app answered it before the cache middleware: an
 * auth check, a 404), the refresh is over without a fill: another may start
 * after `REVALIDATE_RETRY_MS`.
 */
export function refreshSettled(s: EngineState, claim: RefreshClaim, rule: string): void {
  if (s.revalidations.get(claim.key) === claim) endRevalidation(s, claim.key, 'not-stored', rule)
}
