import type { CacheEngine } from '../engine/engine'
import type { RuleMetrics } from '../observe/metrics'
import type { Definition, Sample } from './definition'

/** The counters of the cache rules (write rules have none worth exporting). */
export function cacheRuleMetrics(engine: CacheEngine): RuleMetrics[] {
  return engine.rules.rules.flatMap((r) =>
    r.kind === 'cache' ? [engine.metrics[r.index] as RuleMetrics] : [],
  )
}

/**
 * The metrics every cache has, in the order of the exposition: the per-rule
 * counters (by tier for the `tiers` the cache has), the latency histograms,
 * invalidations and background refreshes.
 */
export function ruleDefinitions(
  engine: CacheEngine,
  p: string,
  rules: readonly RuleMetrics[],
  tiers: ReadonlyArray<'memory' | 'shared'>,
): Definition[] {
  const perRule = (value: (m: RuleMetrics) => number) =>
    function* (): Iterable<Sample> {
      for (const m of rules) yield [{ rule: m.rule }, value(m)]
    }
  const byTier = (memory: (m: RuleMetrics) => number, shared: (m: RuleMetrics) => number) =>
    function* (): Iterable<Sample> {
      for (const m of rules)
        for (const tier of tiers)
          yield [{ rule: m.rule, tier }, (tier === 'memory' ? memory : shared)(m)]
    }

  return [
    {
      type: 'counter',
      name: `${p}hits_total`,
      help: 'Requests answered from the cache without running the route, by rule and tier (memory: this process, shared: the L2).',
      labelNames: ['rule', 'tier'],
      read: byTier(
        (m) => m.hitsMemory,
        (m) => m.hitsShared,
      ),
    },
    {
      type: 'counter',
      name: `${p}misses_total`,
      help: 'Requests that went to the origin to fill the cache, by rule (a response the cache refused to store counts as a bypass).',
      labelNames: ['rule'],
      read: perRule((m) => m.misses),
    },
    {
      type: 'counter',
      name: `${p}stale_total`,
      help: 'Stale copies served, by rule and reason (revalidate: stale-while-revalidate; error: stale-if-error; timeout: originTimeout).',
      labelNames: ['rule', 'reason'],
      *read() {
        for (const m of rules) {
          for (const [reason, n] of Object.entries(m.stale)) yield [{ rule: m.rule, reason }, n]
        }
      },
    },
    {
      type: 'counter',
      name: `${p}bypasses_total`,
      help: 'Requests the cache stood aside for, by rule and reason: the request (credentials, no-user, no-tenant, request-body, request-no-store, forwarded, method-override, query-params, only-if-cached) or the response (status, set-cookie, no-store, private, no-cache, vary, too-large, header-size, no-lifetime, validator-mismatch, body-kind).',
      labelNames: ['rule', 'reason'],
      *read() {
        for (const m of rules)
          for (const [reason, n] of m.bypasses) yield [{ rule: m.rule, reason }, n]
      },
    },
    {
      type: 'counter',
      name: `${p}stores_total`,
      help: 'Responses stored, by rule and tier.',
      labelNames: ['rule', 'tier'],
      read: byTier(
        (m) => m.storesMemory,
        (m) => m.storesShared,
      ),
    },
    {
      type: 'counter',
      name: `${p}origin_fill_seconds_total`,
      help: 'Origin time of the fills that were stored, by rule (over origin_fills_total: the mean origin time).',
      labelNames: ['rule'],
      read: perRule((m) => m.originSeconds),
    },
    {
      type: 'counter',
      name: `${p}origin_fills_total`,
      help: 'Fills that were stored, by rule.',
      labelNames: ['rule'],
      read: perRule((m) => m.originFills),
    },
    {
      type: 'gauge',
      name: `${p}origin_saved_seconds`,
      help: "Estimated origin time saved since start, by rule: answers from the cache times the rule's mean origin time. A gauge: the estimate moves with the mean.",
      labelNames: ['rule'],
      read: perRule((m) => m.savedSeconds),
    },
    {
      type: 'histogram',
      name: `${p}hit_duration_seconds`,
      help: 'Time to answer a request from the cache (hits and stale answers), by rule.',
      rules,
      pick: (m) => m.hitLatency,
    },
    {
      type: 'histogram',
      name: `${p}miss_duration_seconds`,
      help: 'Time to answer a request that went to the origin to fill the cache, by rule.',
      rules,
      pick: (m) => m.missLatency,
    },
    {
      type: 'counter',
      name: `${p}invalidations_total`,
      help: 'Invalidations this process made, by outcome (done; failed: the shared tier could not confirm it).',
      labelNames: ['outcome'],
      *read() {
        const c = engine.invalidations
        yield [{ outcome: 'done' }, c.done]
        yield [{ outcome: 'failed' }, c.failed]
      },
    },
    {
      type: 'counter',
      name: `${p}invalidation_targets_total`,
      help: 'What the completed invalidations named, by kind (tags, patterns, users, tenants).',
      labelNames: ['kind'],
      *read() {
        const c = engine.invalidations
        yield [{ kind: 'tags' }, c.tags]
        yield [{ kind: 'patterns' }, c.patterns]
        yield [{ kind: 'users' }, c.users]
        yield [{ kind: 'tenants' }, c.tenants]
      },
    },
    {
      type: 'counter',
      name: `${p}revalidations_started_total`,
      help: 'Background refreshes (stale-while-revalidate, refreshAhead) started.',
      *read() {
        yield [{}, engine.stats().revalidations.started]
      },
    },
    {
      type: 'counter',
      name: `${p}refresh_ahead_started_total`,
      help: "Background refreshes started by a hit past its rule's refreshAhead point (of revalidations_started_total).",
      *read() {
        yield [{}, engine.stats().revalidations.ahead]
      },
    },
    {
      type: 'counter',
      name: `${p}revalidations_total`,
      help: 'Background refreshes ended, by outcome (stored; not-stored: an error, a veto or an invalidation meanwhile; skipped: another request or process had it).',
      labelNames: ['outcome'],
      *read() {
        const r = engine.stats().revalidations
        yield [{ outcome: 'stored' }, r.stored]
        yield [{ outcome: 'not-stored' }, r.notStored]
        yield [{ outcome: 'skipped' }, r.skipped]
      },
    },
  ]
}
