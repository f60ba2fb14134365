import { debuglog } from 'node:util'
import { type CacheEntry, entrySize } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import { LocalInvalidationState } from '../invalidation/local-state'
import {
  type InvalidationTarget,
  type NormalizedTarget,
  normalizeTarget,
  userTag,
} from '../invalidation/target'
import { buildKey, parseQuery } from '../rules/key'
import { requestBypassReason } from '../rules/request-filter'
import { RuleSet } from '../rules/rule-set'
import type { TemplateVars } from '../rules/template'
import type { CompiledCacheRule, CompiledWriteRule, RuleMatch } from '../rules/types'
import { MemoryTier } from '../tiers/memory-tier'
import type { StoredResponse } from '../tiers/remote-tier'
import type { Exchange } from './exchange'
import { Fill, type FillSink } from './fill'
import { Flight } from './flight'
import { resolveOptions } from './options'
import { PassMarkers } from './pass-markers'
import { RemotePath } from './remote-path'
import type { BypassReason } from './status-headers'

const debug = debuglog('cachet')

/** Longest time a "don't wait, don't capture" marker lasts after an unstorable response. */
export const MARKER_MAX_MS = 120_000

export type Lookup =
  | { readonly type: 'hit'; readonly entry: CacheEntry }
  | { readonly type: 'bypass'; readonly reason: BypassReason }
  | { readonly type: 'miss'; readonly fill: Fill }

/**
 * The orchestrator: it matches a request to a rule, looks it up in the memory
 * tier and then the shared tier, coalesces concurrent misses, stores what a
 * fill captured when its fence still holds, and applies invalidations.
 * Framework-free; the adapters translate.
 */
export class CacheEngine implements FillSink {
  readonly rules: RuleSet
  /** The memory tier; `undefined` when turned off (`store.l1: false`). */
  readonly l1: MemoryTier | undefined
  readonly #state: LocalInvalidationState
  readonly #remote: RemotePath | undefined
  readonly #flights = new Map<string, Flight>()
  readonly #markers = new PassMarkers()
  readonly #namespace: string
  readonly #maxWaiters: number
  readonly #maxWaitMs: number
  /** Age after which a flight is taken for abandoned. */
  readonly #abandonFlightMs: number
  /** Cap on a memory entry's lifetime (set when the shared tier has no bus). */
  readonly #l1MaxTtlMs: number

  constructor(options: unknown) {
    const resolved = resolveOptions(options)
    this.rules = new RuleSet(resolved.rules, resolved.defaults)
    const l2 = resolved.l2
    // With a shared tier that has no bus, memory entries are kept only for an
    // explicit `store.l1.maxTtl`: nothing else would bound their staleness.
    const l1Off =
      resolved.l1 === false || (l2 !== undefined && !l2.coherent && resolved.l1MaxTtlMs === 0)
    this.l1 = l1Off || resolved.l1 === false ? undefined : new MemoryTier(resolved.l1)
    this.#namespace = resolved.namespace
    this.#maxWaiters = resolved.maxWaiters
    this.#maxWaitMs = resolved.maxWaitMs
    this.#abandonFlightMs = Math.max(4 * resolved.maxWaitMs, 60_000)
    let maxLifetime = 0
    for (const r of this.rules.rules)
      if (r.kind === 'cache') maxLifetime = Math.max(maxLifetime, r.ttlMs)
    this.#state = new LocalInvalidationState(this.rules, maxLifetime)
    this.#l1MaxTtlMs =
      l2 === undefined || l2.coherent ? Number.POSITIVE_INFINITY : resolved.l1MaxTtlMs
    this.#remote =
      l2 === undefined
        ? undefined
        : new RemotePath(l2, this.#maxWaitMs, {
            onInvalidate: (plan) => this.#state.apply(plan, Date.now()),
            onResync: () => {
              this.#state.resync()
              this.l1?.clear()
              debug('resync: the memory tier was dropped')
            },
          })
  }

  /** Connects the shared tier's bus; resolves once this process takes part in invalidations. */
  async start(): Promise<void> {
    await this.#remote?.start()
  }

  match(method: string, path: string): RuleMatch | undefined {
    return this.rules.match(method, path)
  }

  /** Whether the memory tier may serve and store now (the bus is healthy, or there is no shared tier). */
  #l1Usable(): boolean {
    return this.l1 !== undefined && (this.#remote === undefined || this.#remote.tier.trusted())
  }

  /** A valid, fresh memory entry for `key`; an invalid one is dropped. */
  #memoryHit(key: string, now: number): CacheEntry | undefined {
    if (this.l1 === undefined) return undefined
    const entry = this.l1.get(key, now)
    if (entry === undefined) return undefined
    if (now < entry.staleAt && this.#state.isValid(entry) && this.#l1Usable()) return entry
    this.l1.delete(key)
    return undefined
  }

  /**
   * A memory hit for a request, or nothing — never a fill, never a wait. For
   * answering hits before the framework runs (`cache.edge()`); per-user rules
   * are left to the middleware, which knows the verified user.
   */
  peek(m: RuleMatch<CompiledCacheRule>, ex: Exchange): CacheEntry | undefined {
    if (m.rule.perUser || requestBypassReason(m.rule, ex.headers, undefined) !== undefined)
      return undefined
    return this.#memoryHit(buildKey(this.#namespace, m.rule, ex), Date.now())
  }

  /** Hit, bypass or miss; synchronous on a memory hit and when there is no shared tier. */
  lookup(m: RuleMatch<CompiledCacheRule>, ex: Exchange): Lookup | Promise<Lookup> {
    const rule = m.rule
    const reason = requestBypassReason(rule, ex.headers, ex.user)
    if (reason !== undefined) {
      debug('bypass %s %s: %s', rule.name, ex.path, reason)
      return { type: 'bypass', reason }
    }
    const key = buildKey(this.#namespace, rule, ex)
    const now = Date.now()
    const entry = this.#memoryHit(key, now)
    if (entry !== undefined) return { type: 'hit', entry }
    const marker = this.#markers.get(key, now)
    if (marker?.pass) return { type: 'bypass', reason: marker.reason }
    let flight = marker === undefined ? this.#flights.get(key) : undefined
    if (flight !== undefined && now - flight.startedAt > this.#abandonFlightMs) {
      // A leader that never finished (an adapter that lost track of its fill):
      // nobody may wait on it any more. A legitimately slow origin is given
      // much longer than one wait, so that it keeps its followers.
      this.#flights.delete(key)
      flight.settle(undefined)
      flight = undefined
    }
    if (flight !== undefined && flight.waiters < this.#maxWaiters) {
      return this.#wait(flight, m, ex, key)
    }
    const lead = flight === undefined && marker === undefined ? new Flight() : undefined
    if (lead !== undefined) this.#flights.set(key, lead)
    const tags = this.#tagsFor(m, ex)
    if (this.#remote !== undefined) return this.#lookupRemote(m, ex, key, tags, lead)
    return { type: 'miss', fill: this.#fill(m, ex, key, tags, lead) }
  }

  async #lookupRemote(
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
    key: string,
    tags: string[],
    flight: Flight | undefined,
  ): Promise<Lookup> {
    const remote = this.#remote as RemotePath
    // Captured before the remote read: a bus message that arrives meanwhile
    // makes the promoted copy fail this fence.
    const fence = this.#state.fence(tags)
    const found = await remote.lookup(key, tags, ex.path, flight !== undefined)
    if (found.kind === 'hit') {
      const entry = this.#toEntry(key, found.response, fence)
      this.#storeLocal(entry, fence)
      if (flight !== undefined) this.#settle(key, flight, entry)
      return { type: 'hit', entry }
    }
    if (found.kind === 'bypass') {
      if (flight !== undefined) this.#settle(key, flight, undefined)
      return { type: 'bypass', reason: found.reason }
    }
    return {
      type: 'miss',
      fill: new Fill(this, {
        rule: m.rule,
        key,
        path: ex.path,
        fence,
        flight,
        remote: found.fence,
      }),
    }
  }

  async #wait(
    flight: Flight,
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
    key: string,
  ): Promise<Lookup> {
    const entry = await flight.wait(this.#maxWaitMs)
    if (entry !== undefined && Date.now() < entry.staleAt && this.#state.isValid(entry)) {
      return { type: 'hit', entry }
    }
    // Nothing storable came (or the wait ran out): this request goes to the
    // origin itself, without leading a flight of its own.
    const tags = this.#tagsFor(m, ex)
    if (this.#remote !== undefined) return this.#lookupRemote(m, ex, key, tags, undefined)
    return { type: 'miss', fill: this.#fill(m, ex, key, tags, undefined) }
  }

  #tagsFor(m: RuleMatch<CompiledCacheRule>, ex: Exchange): string[] {
    const rule = m.rule
    const vars: TemplateVars = { params: m.params, user: ex.user }
    if (ex.rawQuery !== '') vars.query = parseQuery(ex.rawQuery)
    const tags = rule.tags.map((t) => t.render(vars))
    tags.push(rule.routeTag)
    if (rule.perUser && ex.user !== undefined) tags.push(userTag(ex.user))
    return tags
  }

  #fill(
    m: RuleMatch<CompiledCacheRule>,
    ex: Exchange,
    key: string,
    tags: string[],
    flight: Flight | undefined,
  ): Fill {
    return new Fill(this, {
      rule: m.rule,
      key,
      path: ex.path,
      fence: this.#state.fence(tags),
      flight,
    })
  }

  #toEntry(key: string, r: StoredResponse, fence: Fill['fence']): CacheEntry {
    return {
      key,
      status: r.status,
      headers: r.headers,
      body: r.body,
      etag: r.etag,
      cachedAt: r.cachedAt,
      staleAt: r.staleAt,
      deleteAt: Math.min(r.deleteAt, r.cachedAt + this.#l1MaxTtlMs),
      tags: fence.tags,
      tagVersions: fence.versions,
      path: r.path,
      patternSeq: fence.patternSeq,
      validatedEpoch: 0,
      size: entrySize(key, r.headers, r.body, fence.tags),
    }
  }

  /** Stores in the memory tier when it is usable and nothing was invalidated since `fence`. */
  #storeLocal(entry: CacheEntry, fence: Fill['fence']): boolean {
    if (!this.#l1Usable()) return false
    const checkedUpTo = this.#state.fenceHolds(fence, entry.path)
    if (checkedUpTo === false) return false
    entry.patternSeq = checkedUpTo
    entry.validatedEpoch = this.#state.epoch
    if (this.#l1MaxTtlMs !== Number.POSITIVE_INFINITY) {
      const cap = entry.cachedAt + this.#l1MaxTtlMs
      if (entry.deleteAt > cap) (entry as { deleteAt: number }).deleteAt = cap
    }
    return (this.l1 as MemoryTier).set(entry)
  }

  /** Releases a flight's waiters; forgets the flight if it is still the key's. */
  #settle(key: string, flight: Flight, entry: CacheEntry | undefined): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key)
    flight.settle(entry)
  }

  /** Called by a fill exactly once: store the entry if its fence holds, then release waiters. */
  complete(
    fill: Fill,
    entry: CacheEntry | undefined,
    reason: ResponseBypassReason | undefined,
  ): void {
    if (entry === undefined) {
      if (reason !== undefined) {
        debug('not stored %s %s: %s', fill.rule.name, fill.path, reason)
        this.#markers.set(fill.key, reason, Date.now() + Math.min(fill.rule.ttlMs, MARKER_MAX_MS))
      }
      if (fill.remote !== undefined) this.#remote?.abandon(fill, reason)
      if (fill.flight !== undefined) this.#settle(fill.key, fill.flight, undefined)
      return
    }
    this.#markers.delete(fill.key)
    if (fill.remote === undefined) {
      const stored = this.#storeLocal(entry, fill.fence)
      if (!stored)
        debug('not stored %s %s: invalidated while the origin ran', fill.rule.name, fill.path)
      if (fill.flight !== undefined) this.#settle(fill.key, fill.flight, stored ? entry : undefined)
      return
    }
    // Waiters are released once the shared tier has accepted (or refused) the
    // entry, so that no process serves what a fence there turned down.
    void (this.#remote as RemotePath).write(fill, entry).then((storedRemotely) => {
      const stored = storedRemotely && this.#storeLocal(entry, fill.fence)
      if (fill.flight !== undefined)
        this.#settle(fill.key, fill.flight, storedRemotely ? entry : undefined)
      if (!stored && !storedRemotely) debug('not stored %s %s: fenced', fill.rule.name, fill.path)
    })
  }

  /** What a successful write matched by `m` invalidates. */
  writeTarget(m: RuleMatch<CompiledWriteRule>, ex: Exchange): NormalizedTarget {
    const spec = m.rule.invalidates
    const vars: TemplateVars = { params: m.params, user: ex.user }
    if (ex.rawQuery !== '') vars.query = parseQuery(ex.rawQuery)
    return {
      tags: spec.tags.map((t) => t.render(vars)).filter((t) => t !== ''),
      patterns: spec.patterns,
      users: spec.user && ex.user !== undefined ? [ex.user] : [],
    }
  }

  /**
   * Invalidates by tags, path pattern or user. Resolves once the invalidation
   * is in effect everywhere: no response stored before the call is served
   * afterwards by any process. Rejects when that cannot be promised.
   */
  async invalidate(target: InvalidationTarget): Promise<void> {
    await this.#apply(normalizeTarget(target))
  }

  /** Runs a write rule's invalidation; the adapter awaits it before sending the write's response. */
  async invalidateAfterWrite(m: RuleMatch<CompiledWriteRule>, ex: Exchange): Promise<void> {
    await this.#apply(this.writeTarget(m, ex))
  }

  async #apply(target: NormalizedTarget): Promise<void> {
    const plan = this.#state.plan(target)
    // Locally first: it can only cause misses, and this process is covered
    // even before the bus brings the message back.
    this.#state.apply(plan, Date.now())
    if (this.#remote !== undefined) await this.#remote.tier.invalidate(plan)
    debug('invalidated %o', plan)
  }

  /** Drops every entry of the memory tier. */
  clear(): void {
    this.l1?.clear()
  }

  async close(): Promise<void> {
    for (const flight of this.#flights.values()) flight.settle(undefined)
    this.#flights.clear()
    await this.#remote?.tier.close()
  }
}
