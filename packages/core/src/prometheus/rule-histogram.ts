import type { Histogram, RuleMetrics } from '../observe/metrics'

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
export class RuleHistogram {
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
