import type { EventEmitter } from 'node:events'
import { debuglog } from 'node:util'
import { purgePlan } from '../../cdn/purge-plan'
import { PurgeQueue } from '../../cdn/purge-queue'
import { LocalInvalidationState } from '../../invalidation/local-state'
import { normalizeTarget } from '../../invalidation/target'
import type { CacheEvents } from '../../observe/events'
import { RuleMetrics } from '../../observe/metrics'
import { TierLog } from '../../observe/tier-log'
import { resolveOptions } from '../../options/cache-options'
import { buildKey } from '../../rules/key'
import { RuleSet } from '../../rules/rule-set'
import type { CompiledCacheRule } from '../../rules/types'
import { MemoryTier } from '../../tiers/memory-tier'
import { SharedTopUrls, topUrlStore } from '../../warm/shared-top'
import { TopUrls } from '../../warm/top-urls'
import { type Exchange, splitUrl } from '../exchange'
import type { FillSink } from '../fill'
import { PassMarkers } from '../pass-markers'
import { RemotePath } from '../remote-path'
import { PURGE_ALL_PATTERN } from './invalidate'
import type { EngineState } from './state'

const debug = debuglog('cachet')

/**
 * Resolves the engine's options and builds its state: the rules and their
 * counters, the memory tier, the shared tier's path (wired to this process's
 * invalidation state and to `host`'s events) and the top URLs.
 */
export function createEngineState(
  options: unknown,
  host: EventEmitter<CacheEvents> & FillSink,
): EngineState {
  const resolved = resolveOptions(options)
  const rules = new RuleSet(resolved.rules, resolved.defaults, resolved.proxy, resolved.cdn)
  const hasOriginRules = rules.rules.some((r) => r.kind === 'cache' && r.origin)
  const metrics = rules.rules.map((r) => new RuleMetrics(r.name))
  const l2 = resolved.l2
  // Before anything else of the tier's: it may refuse the namespace.
  l2?.attach?.({ namespace: resolved.namespace, explicit: resolved.namespaceGiven })
  // With a shared tier that has no bus, memory entries are kept only for an
  // explicit `store.l1.maxTtl`: nothing else would bound their staleness.
  const l1Off =
    resolved.l1 === false || (l2 !== undefined && !l2.coherent && resolved.l1MaxTtlMs === 0)
  const l1 = l1Off || resolved.l1 === false ? undefined : new MemoryTier(resolved.l1)
  const maxWaitMs = resolved.maxWaitMs
  let maxLifetime = 0
  for (const r of rules.rules)
    if (r.kind === 'cache') maxLifetime = Math.max(maxLifetime, r.lifetimeMs)
  const local = new LocalInvalidationState(rules, maxLifetime)
  const tierLog = l2 === undefined ? undefined : new TierLog(resolved.logger, l2)
  const counters: EngineState['counters'] = {
    errors: { read: 0, write: 0, abandon: 0, invalidate: 0 },
    timeouts: 0,
    stale: { revalidate: 0, error: 0, timeout: 0 },
    revalidations: { started: 0, ahead: 0, stored: 0, notStored: 0, skipped: 0 },
  }
  const cdnConfig = resolved.cdn
  const cdn =
    cdnConfig === undefined
      ? undefined
      : {
          config: cdnConfig,
          queue:
            cdnConfig.purger === undefined
              ? undefined
              : new PurgeQueue(cdnConfig.purger, cdnConfig.purge, (report) => {
                  if (host.listenerCount('cdn:purge') > 0) host.emit('cdn:purge', report)
                }),
        }
  const queue = cdn?.queue
  const remote =
    l2 === undefined
      ? undefined
      : new RemotePath(
          l2,
          {
            maxWaitMs,
            breaker: resolved.breaker,
            purgeAll: local.plan(normalizeTarget({ pattern: PURGE_ALL_PATTERN })),
            ...(queue === undefined || cdnConfig === undefined
              ? {}
              : { replayed: (plan) => purgePlan({ config: cdnConfig, queue }, plan) }),
          },
          {
            onInvalidate: (plan) => local.apply(plan, Date.now()),
            onResync: () => {
              local.resync()
              l1?.clear()
              debug('resync: the memory tier was dropped')
            },
            onConnection: (up, cause) => tierLog?.connection(up, cause),
          },
          {
            error: (operation, error) => {
              counters.errors[operation]++
              if (error.name === 'DeadlineError') counters.timeouts++
              tierLog?.failed(error)
              host.emit('tier:error', { tier: l2.name, operation, error })
            },
            breaker: (state, previous, failures) => {
              debug('%s breaker %s -> %s after %d failures', l2.name, previous, state, failures)
              host.emit('breaker', { tier: l2.name, state, previous, failures })
              tierLog?.breaker(state, failures)
            },
          },
        )
  const track = resolved.warm.track
  const top =
    track === 0
      ? undefined
      : new TopUrls(
          rules.rules.filter((r): r is CompiledCacheRule => r.kind === 'cache'),
          rules.rules.length,
          track,
        )
  const store = topUrlStore(l2)
  const namespace = resolved.namespace
  /** A count read back from the shared tier, merged into the memory list. */
  const seedTop = (url: string, count: number): void => {
    const { path, rawQuery } = splitUrl(url)
    const m = rules.match('GET', path)
    if (m === undefined || m.rule.kind !== 'cache' || !Number.isFinite(count)) return
    const ex: Exchange = { method: 'GET', path, rawQuery, headers: {}, user: undefined }
    top?.seed(m.rule, buildKey(namespace, m.rule, ex), url, count)
  }
  return {
    rules,
    namespace,
    hasOriginRules,
    targetRules: new Map(),
    l1,
    local,
    remote,
    tierLog,
    flights: new Map(),
    slowKeys: new Map(),
    markers: new PassMarkers(),
    onInvalidationFailure: resolved.onInvalidationFailure,
    maxWaiters: resolved.maxWaiters,
    maxWaitMs,
    abandonFlightMs: Math.max(4 * resolved.maxWaitMs, 60_000),
    l1MaxTtlMs: l2 === undefined || l2.coherent ? Number.POSITIVE_INFINITY : resolved.l1MaxTtlMs,
    revalidations: new Map(),
    top,
    sharedTop:
      top === undefined || store === undefined
        ? undefined
        : new SharedTopUrls(top, store, seedTop, resolved.warm),
    cdn,
    writes: new Set(),
    metrics,
    invalidations: {
      done: 0,
      failed: 0,
      deferred: 0,
      tags: 0,
      patterns: 0,
      users: 0,
      tenants: 0,
    },
    recent: [],
    decisions: new Map(),
    counters,
    events: host,
    sink: host,
  }
}
