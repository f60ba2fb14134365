import { cdnHeaderCounts } from '../cdn/headers'
import type { EngineState } from '../engine/stages/state'
import type { CacheStats, RuleStats } from './events'
import type { RuleMetrics } from './metrics'

// `stats()`: a snapshot of the engine's counters (those `outcomes.ts` and the
// other stages keep) and of its tiers' state.

/** One cache rule's counters, with its hit ratio. */
function ruleStats(name: string, m: RuleMetrics): RuleStats {
  const served = m.hits + m.staleServed
  const total = served + m.misses
  return {
    name,
    hits: { memory: m.hitsMemory, shared: m.hitsShared },
    misses: m.misses,
    stale: { ...m.stale },
    bypasses: Object.fromEntries(m.bypasses),
    stores: { memory: m.storesMemory, shared: m.storesShared },
    hitRatio: total === 0 ? 0 : served / total,
    savedSeconds: m.savedSeconds,
  }
}

/** A snapshot of the engine's counters and tier state. */
export function stats(s: EngineState): CacheStats {
  const c = s.counters
  const l1 = s.l1
  const remote = s.remote
  return {
    l1:
      l1 === undefined
        ? undefined
        : {
            entries: l1.size,
            bytes: l1.bytes,
            maxBytes: l1.maxBytes,
            evictions: l1.evictions,
          },
    l2:
      remote === undefined
        ? undefined
        : {
            name: remote.tier.name,
            breaker: remote.breaker.state,
            breakerOpened: remote.breaker.opened,
            breakerRejected: remote.breaker.rejected,
            errors: { ...c.errors },
            timeouts: c.timeouts,
            trusted: remote.tier.trusted(),
            outbox: {
              pending: remote.outbox.size,
              deferred: remote.outbox.deferred,
              replayed: remote.outbox.replayed,
              overflows: remote.outbox.overflows,
            },
          },
    l3: remote?.tier.diskStats?.(),
    cdn:
      s.cdn === undefined
        ? undefined
        : {
            provider: s.cdn.config.provider,
            overBudget: cdnHeaderCounts.get(s.cdn.config)?.overBudget ?? 0,
            folded: cdnHeaderCounts.get(s.cdn.config)?.folded ?? 0,
            purges: s.cdn.queue === undefined ? undefined : { ...s.cdn.queue.counts },
          },
    stale: { ...c.stale },
    revalidations: { ...c.revalidations },
    rules: s.rules.rules.flatMap((r) =>
      r.kind === 'cache' ? [ruleStats(r.name, s.metrics[r.index] as RuleMetrics)] : [],
    ),
    invalidations: { ...s.invalidations },
  }
}
