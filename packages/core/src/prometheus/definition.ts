import type { Histogram, RuleMetrics } from '../observe/metrics'

// The shape of one metric before it is registered: what `prometheusMetrics()`
// turns into a prom-client counter or gauge, or a `RuleHistogram`.

/** One sample: its label values and its value. */
export type Sample = readonly [labels: Record<string, string>, value: number]

/** A counter or a gauge whose samples are read from the engine at scrape time. */
export interface ScalarDefinition {
  type: 'counter' | 'gauge'
  name: string
  help: string
  labelNames?: readonly string[]
  read: () => Iterable<Sample>
  /** How `AggregatorRegistry` combines the processes of a Node cluster (default `sum`). */
  aggregator?: 'sum' | 'max' | 'min'
}

/** A latency histogram by rule, from the engine's fixed-bucket counts. */
export interface HistogramDefinition {
  type: 'histogram'
  name: string
  help: string
  rules: readonly RuleMetrics[]
  pick: (m: RuleMetrics) => Histogram
}

export type Definition = ScalarDefinition | HistogramDefinition
