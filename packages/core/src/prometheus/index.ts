import { Counter, Gauge, type Metric, Registry, type RegistryContentType } from 'prom-client'
import type { CacheEngine } from '../engine/engine'
import { CachetConfigError, describeValue } from '../errors'
import type { Definition } from './definition'
import { cacheRuleMetrics, ruleDefinitions } from './rule-definitions'
import { RuleHistogram } from './rule-histogram'
import {
  cdnDefinitions,
  diskTierDefinitions,
  memoryTierDefinitions,
  sharedTierDefinitions,
} from './tier-definitions'

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

/** Every metric of `engine`, in the order of the exposition. */
function definitions(engine: CacheEngine, p: string): Definition[] {
  const rules = cacheRuleMetrics(engine)
  // Which tiers exist is fixed when the engine is built.
  const shape = engine.stats()
  const tiers: Array<'memory' | 'shared'> = []
  if (shape.l1 !== undefined) tiers.push('memory')
  if (shape.l2 !== undefined) tiers.push('shared')

  const metrics = ruleDefinitions(engine, p, rules, tiers)
  if (shape.l1 !== undefined) metrics.push(...memoryTierDefinitions(engine, p))
  if (shape.l2 !== undefined) metrics.push(...sharedTierDefinitions(engine, p))
  if (shape.l3 !== undefined) metrics.push(...diskTierDefinitions(engine, p, shape.l3))
  if (shape.cdn !== undefined) metrics.push(...cdnDefinitions(engine, p, shape.cdn))
  return metrics
}
