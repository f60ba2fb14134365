/**
 * The engine's own counters, kept per rule in plain numbers and arrays so that
 * the hit path pays an increment, never a label lookup or an allocation. An
 * exporter (`@cachet/core/prometheus`) reads them when it is scraped. Labels
 * are the rule's name and the tier only: their number is fixed by the rules.
 */
import type { StaleReason } from './events'

/** Upper bounds (seconds) of the latency histograms' buckets. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const

/** A fixed-bucket histogram: counts per bucket (not cumulative), a sum and a count. */
export class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0)
  sum = 0
  count = 0

  observe(seconds: number): void {
    let i = 0
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += seconds
    this.count++
  }

  /** Cumulative counts per bucket bound, `+Inf` last, as Prometheus exposes them. */
  cumulative(): Array<[number, number]> {
    const out: Array<[number, number]> = []
    let running = 0
    for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
      running += this.counts[i] as number
      out.push([i < LATENCY_BUCKETS.length ? (LATENCY_BUCKETS[i] as number) : Infinity, running])
    }
    return out
  }
}

/** Tiers a hit or a store can come from. */
export type Tier = 'memory' | 'shared'

/** One rule's counters. */
export class RuleMetrics {
  readonly rule: string
  /** Hits served from the memory tier, from the shared tier. */
  hitsMemory = 0
  hitsShared = 0
  /** Requests that went to the origin to fill (a stored or unstorable response). */
  misses = 0
  /** Stale copies served, by why. */
  readonly stale: Record<StaleReason, number> = { revalidate: 0, error: 0, timeout: 0 }
  /** Bypasses by reason (request side and response vetoes). */
  readonly bypasses = new Map<string, number>()
  storesMemory = 0
  storesShared = 0
  /** Origin time of the fills that completed, and how many: their mean prices a hit. */
  originSeconds = 0
  originFills = 0
  readonly hitLatency = new Histogram()
  readonly missLatency = new Histogram()

  constructor(rule: string) {
    this.rule = rule
  }

  get hits(): number {
    return this.hitsMemory + this.hitsShared
  }

  /**
   * Origin time saved: hits (and stale answers) times the mean origin time
   * this process measured for the rule's fills. An estimate; 0 before a fill.
   */
  get savedSeconds(): number {
    if (this.originFills === 0) return 0
    const served = this.hits + this.staleServed
    return (served * this.originSeconds) / this.originFills
  }

  /** Stale copies served, for every reason. */
  get staleServed(): number {
    return this.stale.revalidate + this.stale.error + this.stale.timeout
  }

  bypass(reason: string): void {
    this.bypasses.set(reason, (this.bypasses.get(reason) ?? 0) + 1)
  }
}

/** Invalidations this process made, by what they named. */
export interface InvalidationCounts {
  /** Calls of `invalidate()` (and write rules) that completed. */
  done: number
  /** Calls that were rejected (the shared tier could not confirm them). */
  failed: number
  /**
   * Calls the shared tier could not confirm that resolved anyway
   * (`onInvalidationFailure: 'defer'`): applied here, kept for the replay.
   */
  deferred: number
  tags: number
  patterns: number
  users: number
  tenants: number
}
