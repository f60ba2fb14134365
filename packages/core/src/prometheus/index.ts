import { Counter, Gauge, type Metric, Registry, type RegistryContentType } from 'prom-client'
import type { CacheEngine } from '../engine/engine'
import type { CacheStats } from '../engine/events'
import type { Histogram, RuleMetrics } from '../engine/metrics'
import { CachetConfigError, describeValue } from '../errors'

/**
 * `@cachet/core/prometheus`: the engine's counters as Prometheus metrics,
 * through `prom-client` (an optional peer dependency, needed only by this
 * subpath).
 *
 * Nothing here runs on the request path: the engine keeps plain numbers
 * (`engine.metrics`, `engine.stats()`), and every metric registered below
 * reads them when the registry is scraped, in `collect()` / `get()`. Labels
 * are the rule's name, the tier, and fixed vocabularies (a bypass reason, an
 * L2 operation, an outcome, an invalidation kind): never a key, a path, a
 * query value or a user, so the number of series is bounded by the rules.
 */

export interface PrometheusOptions<R extends Registry<RegistryContentType>> {
  /** Where to register the metrics; default: a new `Registry`, returned. */
  registry?: R
  /** Prefix of every metric name; default `cachet_`. */
  prefix?: string
}

/** Anything that carries an engine: the Express or Koa middleware (`cache.engine`), or the engine itself. */
export type EngineSource = { readonly engine: CacheEngine } | CacheEngine

const DEFAULT_PREFIX = 'cachet_'
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const
const L2_OPERATIONS = ['read', 'write', 'abandon', 'invalidate'] as const

/** One sample: its label values and its value. */
type Sample = readonly [labels: Record<string, string>, value: number]

/** A counter or a gauge whose samples are read from the engine at scrape time. */
interface ScalarDefinition {
  type: 'counter' | 'gauge'
  name: string
  help: string
  labelNames?: readonly string[]
  read: () => Iterable<Sample>
  /** How `AggregatorRegistry` combines the processes of a Node cluster (default `sum`). */
  aggregator?: 'sum' | 'max' | 'min'
}

/** A latency histogram by rule, from the engine's fixed-bucket counts. */
interface HistogramDefinition {
  type: 'histogram'
  name: string
  help: string
  rules: readonly RuleMetrics[]
  pick: (m: RuleMetrics) => Histogram
}

type Definition = ScalarDefinition | HistogramDefinition

/**
 * Registers the cache's metrics on `options.registry` (default: a new
 * `Registry`) and returns that registry: serve `await registry.metrics()`
 * with `registry.contentType` at `GET /metrics`.
 *
 * One cache per registry and prefix: a second call on the same registry with
 * the same prefix throws a `CachetConfigError` that names the metric already
 * there, before registering anything (give a second cache another `prefix`).
 * Metrics of a tier the cache does not have (`l1_*` without a memory tier,
 * `l2_*` and `bus_trusted` without a shared tier) are not registered.
 */
export function prometheusMetrics<R extends Registry<RegistryContentType> = Registry>(
  cache: EngineSource,
  options: PrometheusOptions<R> = {},
): R {
  const engine = engineOf(cache)
  const prefix = options.prefix ?? DEFAULT_PREFIX
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `prometheusMetrics(): option "prefix": expected letters, digits, "_" or ":" (not starting with a digit), got ${describeValue(prefix)}`,
    )
  }
  const registry = options.registry ?? (new Registry() as unknown as R)
  const metrics = definitions(engine, prefix)
  // All or nothing: refuse before registering the first one.
  for (const { name } of metrics) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        `prometheusMetrics(): the registry already has a metric named "${name}": prometheusMetrics() was called twice on this registry, or another library uses the name; give this cache another "prefix"`,
      )
    }
  }
  for (const d of metrics) {
    const base = { name: d.name, help: d.help, registers: [registry] }
    if (d.type === 'histogram') {
      // A Metric-compatible object (see RuleHistogram): prom-client's types
      // only name its own classes; the registry calls `get()` and `reset()`.
      registry.registerMetric(
        new RuleHistogram(d.name, d.help, d.rules, d.pick) as unknown as Metric,
      )
    } else if (d.type === 'counter') {
      new Counter({
        ...base,
        labelNames: d.labelNames ?? [],
        aggregator: d.aggregator ?? 'sum',
        // A counter has no `set`: start from empty and add the engine's value.
        collect() {
          this.reset()
          for (const [labels, value] of d.read()) this.inc(labels, value)
        },
      })
    } else {
      new Gauge({
        ...base,
        labelNames: d.labelNames ?? [],
        aggregator: d.aggregator ?? 'sum',
        collect() {
          this.reset()
          for (const [labels, value] of d.read()) this.set(labels, value)
        },
      })
    }
  }
  return registry
}

function engineOf(cache: unknown): CacheEngine {
  const candidate =
    (typeof cache === 'object' || typeof cache === 'function') &&
    cache !== null &&
    'engine' in cache
      ? (cache as { engine: unknown }).engine
      : cache
  const engine = candidate as Partial<CacheEngine> | null | undefined
  if (
    engine === null ||
    typeof engine !== 'object' ||
    typeof engine.stats !== 'function' ||
    !Array.isArray(engine.metrics)
  ) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `prometheusMetrics(cache): expected the cache middleware (with an "engine") or a CacheEngine, got ${describeValue(cache)}`,
    )
  }
  return engine as CacheEngine
}

/** The counters of the cache rules (write rules have none worth exporting). */
function cacheRuleMetrics(engine: CacheEngine): RuleMetrics[] {
  return engine.rules.rules.flatMap((r) =>
    r.kind === 'cache' ? [engine.metrics[r.index] as RuleMetrics] : [],
  )
}

/** Every metric of `engine`, in the order of the exposition. */
function definitions(engine: CacheEngine, p: string): Definition[] {
  const rules = cacheRuleMetrics(engine)
  // Which tiers exist is fixed when the engine is built.
  const shape = engine.stats()
  const tiers: Array<'memory' | 'shared'> = []
  if (shape.l1 !== undefined) tiers.push('memory')
  if (shape.l2 !== undefined) tiers.push('shared')

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
  const l1 = (value: (s: NonNullable<CacheStats['l1']>) => number) =>
    function* (): Iterable<Sample> {
      const s = engine.stats().l1
      if (s !== undefined) yield [{}, value(s)]
    }
  const l2 = (value: (s: NonNullable<CacheStats['l2']>) => number) =>
    function* (): Iterable<Sample> {
      const s = engine.stats().l2
      if (s !== undefined) yield [{}, value(s)]
    }

  const metrics: Definition[] = [
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
      help: 'Stale copies served, by rule and reason (revalidate: stale-while-revalidate; error: stale-if-error).',
      labelNames: ['rule', 'reason'],
      *read() {
        for (const m of rules) {
          yield [{ rule: m.rule, reason: 'revalidate' }, m.staleRevalidate]
          yield [{ rule: m.rule, reason: 'error' }, m.staleError]
        }
      },
    },
    {
      type: 'counter',
      name: `${p}bypasses_total`,
      help: 'Requests the cache stood aside for, by rule and reason: the request (credentials, no-user, request-body, request-no-store, forwarded, method-override, query-params, only-if-cached) or the response (status, set-cookie, no-store, private, no-cache, vary, too-large, header-size, no-lifetime, validator-mismatch, body-kind).',
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
      help: 'What the completed invalidations named, by kind (tags, patterns, users).',
      labelNames: ['kind'],
      *read() {
        const c = engine.invalidations
        yield [{ kind: 'tags' }, c.tags]
        yield [{ kind: 'patterns' }, c.patterns]
        yield [{ kind: 'users' }, c.users]
      },
    },
    {
      type: 'counter',
      name: `${p}revalidations_started_total`,
      help: 'Background refreshes (stale-while-revalidate) started.',
      *read() {
        yield [{}, engine.stats().revalidations.started]
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
  if (shape.l1 !== undefined) {
    metrics.push(
      {
        type: 'gauge',
        name: `${p}l1_entries`,
        help: 'Entries in the memory tier.',
        read: l1((s) => s.entries),
      },
      {
        type: 'gauge',
        name: `${p}l1_bytes`,
        help: 'Bytes held by the memory tier.',
        read: l1((s) => s.bytes),
      },
      {
        type: 'gauge',
        name: `${p}l1_max_bytes`,
        help: "The memory tier's size limit in bytes.",
        read: l1((s) => s.maxBytes),
      },
      {
        type: 'counter',
        name: `${p}l1_evictions_total`,
        help: 'Entries the memory tier evicted to stay within its size.',
        read: l1((s) => s.evictions),
      },
    )
  }
  if (shape.l2 !== undefined) {
    metrics.push(
      {
        type: 'counter',
        name: `${p}l2_errors_total`,
        help: 'Shared-tier operations that failed or ran past their deadline, by operation; the request went on without the tier.',
        labelNames: ['operation'],
        *read() {
          const s = engine.stats().l2
          if (s !== undefined)
            for (const operation of L2_OPERATIONS) yield [{ operation }, s.errors[operation]]
        },
      },
      {
        type: 'counter',
        name: `${p}l2_timeouts_total`,
        help: 'Of the shared-tier errors, operations that ran past their deadline.',
        read: l2((s) => s.timeouts),
      },
      {
        type: 'gauge',
        name: `${p}l2_breaker_state`,
        help: "The shared tier's circuit breaker: 0 closed, 1 half-open, 2 open.",
        read: l2((s) => BREAKER_STATE[s.breaker]),
        aggregator: 'max',
      },
      {
        type: 'counter',
        name: `${p}l2_breaker_opened_total`,
        help: "Times the shared tier's circuit breaker opened.",
        read: l2((s) => s.breakerOpened),
      },
      {
        type: 'counter',
        name: `${p}l2_breaker_rejected_total`,
        help: 'Shared-tier calls not made because the circuit breaker was open.',
        read: l2((s) => s.breakerRejected),
      },
      {
        type: 'gauge',
        name: `${p}bus_trusted`,
        help: "1 when this process's invalidation bus is healthy and it may serve from its memory tier, else 0.",
        read: l2((s) => (s.trusted ? 1 : 0)),
        aggregator: 'min',
      },
    )
  }
  return metrics
}

/**
 * A latency histogram by rule, exposed from the engine's own fixed-bucket
 * counts (`RuleMetrics.hitLatency` / `missLatency`).
 *
 * Why not a prom-client `Histogram`: it is fed one observation at a time. The
 * engine already counts each request into its bucket on the hot path (one
 * increment, no prom-client call); replaying those counts into a prom-client
 * Histogram would mean inventing an observed value per bucket (its `_sum`
 * would then be wrong) or writing its private state. This object is what the
 * registry needs of a metric — `name`, `help`, `type`, `aggregator`, `get()`,
 * `reset()` — and `get()` returns the `_bucket{le}` (cumulative, `+Inf` last),
 * `_sum` and `_count` samples read from the engine at scrape time: exact, and
 * as cheap as one pass over the buckets. `registry.metrics()`,
 * `getMetricsAsJSON()` and `AggregatorRegistry` (which sums by sample name
 * and labels) all work with it.
 */
class RuleHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly labelNames = ['rule']

  constructor(
    readonly name: string,
    readonly help: string,
    readonly rules: readonly RuleMetrics[],
    readonly pick: (m: RuleMetrics) => Histogram,
  ) {}

  async get(): Promise<{
    name: string
    help: string
    type: 'histogram'
    aggregator: 'sum'
    values: Array<{ metricName: string; labels: Record<string, string>; value: number }>
  }> {
    const values: Array<{ metricName: string; labels: Record<string, string>; value: number }> = []
    for (const m of this.rules) {
      const h = this.pick(m)
      for (const [le, count] of h.cumulative()) {
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { rule: m.rule, le: le === Infinity ? '+Inf' : String(le) },
          value: count,
        })
      }
      values.push({ metricName: `${this.name}_sum`, labels: { rule: m.rule }, value: h.sum })
      values.push({ metricName: `${this.name}_count`, labels: { rule: m.rule }, value: h.count })
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    }
  }

  /** `registry.resetMetrics()`: nothing to do, the counts are the engine's. */
  reset(): void {}
}
