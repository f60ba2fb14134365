import type { CacheEngine } from '../engine/engine'
import type { CacheStats } from '../observe/events'
import type { Definition, Sample } from './definition'

const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const
const L2_OPERATIONS = ['read', 'write', 'abandon', 'invalidate'] as const

/** The memory tier's gauges and evictions (registered only when the cache has one). */
export function memoryTierDefinitions(engine: CacheEngine, p: string): Definition[] {
  const l1 = (value: (s: NonNullable<CacheStats['l1']>) => number) =>
    function* (): Iterable<Sample> {
      const s = engine.stats().l1
      if (s !== undefined) yield [{}, value(s)]
    }

  return [
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
  ]
}

/** The shared tier's errors, breaker and bus (registered only when the cache has one). */
export function sharedTierDefinitions(engine: CacheEngine, p: string): Definition[] {
  const l2 = (value: (s: NonNullable<CacheStats['l2']>) => number) =>
    function* (): Iterable<Sample> {
      const s = engine.stats().l2
      if (s !== undefined) yield [{}, value(s)]
    }

  return [
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
  ]
}

/** The disk tier (`store.l3`; its counters only below a shared tier). */
export function diskTierDefinitions(
  engine: CacheEngine,
  p: string,
  shape: NonNullable<CacheStats['l3']>,
): Definition[] {
  const l3 = (value: (s: NonNullable<CacheStats['l3']>) => number | undefined) =>
    function* (): Iterable<Sample> {
      const s = engine.stats().l3
      const v = s === undefined ? undefined : value(s)
      if (v !== undefined) yield [{}, v]
    }
  const metrics: Definition[] = []
  if (shape.store === 'file') {
    metrics.push(
      {
        type: 'gauge',
        name: `${p}l3_entries`,
        help: 'Files the disk tier holds.',
        read: l3((s) => s.entries),
      },
      {
        type: 'gauge',
        name: `${p}l3_bytes`,
        help: 'Bytes the disk tier holds on disk.',
        read: l3((s) => s.bytes),
      },
      {
        type: 'gauge',
        name: `${p}l3_max_bytes`,
        help: "The disk tier's size limit in bytes.",
        read: l3((s) => s.maxBytes),
      },
    )
  }
  if (shape.counts !== undefined) {
    metrics.push(
      {
        type: 'counter',
        name: `${p}l3_hits_total`,
        help: 'Shared-tier misses answered from the disk tier (the copy promoted back up).',
        read: l3((s) => s.counts?.hits),
      },
      {
        type: 'counter',
        name: `${p}l3_refused_total`,
        help: 'Copies on disk refused (and deleted): invalidated since they were written.',
        read: l3((s) => s.counts?.refused),
      },
      {
        type: 'counter',
        name: `${p}l3_writes_total`,
        help: 'Copies written to the disk tier.',
        read: l3((s) => s.counts?.writes),
      },
      {
        type: 'counter',
        name: `${p}l3_errors_total`,
        help: 'Disk-tier operations that failed or ran past their deadline; the request went on without it.',
        read: l3((s) => s.counts?.errors),
      },
    )
  }
  return metrics
}

/** The CDN in front (`cdn`; the purge series only with a purger). */
export function cdnDefinitions(
  engine: CacheEngine,
  p: string,
  shape: NonNullable<CacheStats['cdn']>,
): Definition[] {
  const cdn = (value: (s: NonNullable<CacheStats['cdn']>) => number | undefined) =>
    function* (): Iterable<Sample> {
      const s = engine.stats().cdn
      const v = s === undefined ? undefined : value(s)
      if (v !== undefined) yield [{}, v]
    }
  const metrics: Definition[] = [
    {
      type: 'counter',
      name: `${p}cdn_over_budget_total`,
      help: "Responses whose tags did not fit the CDN's limits: sent uncacheable at the CDN.",
      read: cdn((s) => s.overBudget),
    },
    {
      type: 'counter',
      name: `${p}cdn_folded_tags_total`,
      help: 'Tags sent to the CDN folded into their short hashed form (too long, or bytes it does not allow).',
      read: cdn((s) => s.folded),
    },
  ]
  if (shape.purges !== undefined) {
    metrics.push(
      {
        type: 'counter',
        name: `${p}cdn_purges_total`,
        help: "Calls to the CDN's purge API, by outcome (a failed one is retried).",
        labelNames: ['outcome'],
        *read() {
          const s = engine.stats().cdn?.purges
          if (s === undefined) return
          yield [{ outcome: 'ok' }, s.ok]
          yield [{ outcome: 'failed' }, s.failed]
        },
      },
      {
        type: 'gauge',
        name: `${p}cdn_purge_pending`,
        help: 'Tags and path patterns waiting to be purged at the CDN.',
        read: cdn((s) => s.purges?.pending),
      },
      {
        type: 'counter',
        name: `${p}cdn_purge_overflows_total`,
        help: 'Times the purge queue passed its bound (then one purge of everything, where the CDN has one).',
        read: cdn((s) => s.purges?.overflows),
      },
    )
  }
  return metrics
}
