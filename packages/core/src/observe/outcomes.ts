import type { Fill } from '../engine/fill'
import type { EngineState, Lookup } from '../engine/stages/state'
import type { BypassReason } from '../engine/status-headers'
import type { CacheEntry } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import type { CompiledCacheRule } from '../rules/types'
import type { StaleReason } from './events'
import type { RuleMetrics } from './metrics'

// What each stage's outcome counts, and the event it emits: a hit, a
// request-side bypass, a stale answer, a store, a fill's end. An event
// without listeners costs one `listenerCount` check and no allocation.

/** Keys whose last storage decision `explain()` remembers; the oldest are forgotten first. */
const DECISIONS_KEPT = 1000

/** An answer from a tier. */
export function hit(
  s: EngineState,
  rule: CompiledCacheRule,
  entry: CacheEntry,
  tier: 'memory' | 'shared',
): Lookup {
  const m = s.metrics[rule.index] as RuleMetrics
  if (tier === 'memory') m.hitsMemory++
  else m.hitsShared++
  if (s.events.listenerCount('hit') > 0) s.events.emit('hit', { rule: rule.name, tier })
  return { type: 'hit', entry }
}

/** The cache stands aside for a request. */
export function bypass(s: EngineState, rule: CompiledCacheRule, reason: BypassReason): Lookup {
  ;(s.metrics[rule.index] as RuleMetrics).bypass(reason)
  if (s.events.listenerCount('bypass') > 0)
    s.events.emit('bypass', { rule: rule.name, reason, side: 'request' })
  return { type: 'bypass', reason }
}

/** A stale copy was served (inside `staleWhileRevalidate`, or `staleIfError` for a failure). */
export function servedStale(
  s: EngineState,
  rule: CompiledCacheRule,
  reason: StaleReason,
  entry: CacheEntry,
  now: number,
): void {
  s.counters.stale[reason]++
  ;(s.metrics[rule.index] as RuleMetrics).stale[reason]++
  if (s.events.listenerCount('stale') > 0)
    s.events.emit('stale', { rule: rule.name, reason, staleMs: now - entry.staleAt })
}

/** A fill's entry was stored in a tier. */
export function stored(s: EngineState, rule: CompiledCacheRule, tier: 'memory' | 'shared'): void {
  const m = s.metrics[rule.index] as RuleMetrics
  if (tier === 'memory') m.storesMemory++
  else m.storesShared++
  if (s.events.listenerCount('store') > 0) s.events.emit('store', { rule: rule.name, tier })
}

/** Counts a fill's end: a miss (X-Cache MISS) or a response-side bypass, and its origin time. */
export function fillEnded(
  s: EngineState,
  fill: Fill,
  entry: CacheEntry | undefined,
  reason: ResponseBypassReason | undefined,
): void {
  const decision =
    entry !== undefined
      ? { at: Date.now(), stored: true }
      : {
          at: Date.now(),
          stored: false,
          reason: reason ?? (fill.failed ? 'origin-failed' : 'aborted'),
        }
  s.decisions.delete(fill.key)
  s.decisions.set(fill.key, decision)
  if (s.decisions.size > DECISIONS_KEPT) {
    const oldest = s.decisions.keys().next().value
    if (oldest !== undefined) s.decisions.delete(oldest)
  }
  if (fill.revalidation) return
  const m = s.metrics[fill.rule.index] as RuleMetrics
  const rule = fill.rule.name
  if (reason !== undefined) {
    m.bypass(reason)
    if (s.events.listenerCount('bypass') > 0)
      s.events.emit('bypass', { rule, reason, side: 'response' })
    return
  }
  m.misses++
  if (entry !== undefined) {
    m.originSeconds += fill.originSeconds
    m.originFills++
  }
  if (s.events.listenerCount('miss') > 0)
    s.events.emit('miss', { rule, stored: entry !== undefined, originSeconds: fill.originSeconds })
}
