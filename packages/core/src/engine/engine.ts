import { debuglog } from 'node:util'
import type { CacheEntry } from '../entry/entry'
import type { ResponseBypassReason } from '../http/storable'
import { LocalInvalidationState } from '../invalidation/local-state'
import {
  type InvalidationTarget,
  type NormalizedTarget,
  normalizeTarget,
  userTag,
} from '../invalidation/target'
import { buildKey } from '../rules/key'
import { requestBypassReason } from '../rules/request-filter'
import { RuleSet } from '../rules/rule-set'
import type { TemplateVars } from '../rules/template'
import type { CompiledCacheRule, CompiledWriteRule, RuleMatch } from '../rules/types'
import { MemoryTier } from '../tiers/memory-tier'
import type { Exchange } from './exchange'
import { Fill, type FillSink } from './fill'
import { Flight } from './flight'
import { resolveOptions } from './options'
import { PassMarkers } from './pass-markers'
import type { BypassReason } from './status-headers'

const debug = debuglog('cachet')

/** Longest time a "don't wait, don't capture" marker lasts after an unstorable response. */
const MARKER_MAX_MS = 120_000

export type Lookup =
  | { readonly type: 'hit'; readonly entry: CacheEntry }
  | { readonly type: 'bypass'; readonly reason: BypassReason }
  | { readonly type: 'miss'; readonly fill: Fill }

/**
 * The orchestrator: it matches a request to a rule, looks it up, coalesces
 * concurrent misses, stores what a fill captured when its fence still holds,
 * and applies invalidations. Framework-free; the adapters translate.
 */
export class CacheEngine implements FillSink {
  readonly rules: RuleSet
  readonly l1: MemoryTier
  readonly #state: LocalInvalidationState
  readonly #flights = new Map<string, Flight>()
  readonly #markers = new PassMarkers()
  readonly #namespace: string
  readonly #maxWaiters: number
  readonly #maxWaitMs: number

  constructor(options: unknown) {
    const resolved = resolveOptions(options)
    this.rules = new RuleSet(resolved.rules, resolved.defaults)
    this.l1 = new MemoryTier(resolved.l1)
    this.#namespace = resolved.namespace
    this.#maxWaiters = resolved.maxWaiters
    this.#maxWaitMs = resolved.maxWaitMs
    let maxLifetime = 0
    for (const r of this.rules.rules)
      if (r.kind === 'cache') maxLifetime = Math.max(maxLifetime, r.ttlMs)
    this.#state = new LocalInvalidationState(this.rules, maxLifetime)
  }

  match(method: string, path: string): RuleMatch | undefined {
    return this.rules.match(method, path)
  }

  /** Hit, bypass or miss; synchronous unless the request waits for another one's fill. */
  lookup(m: RuleMatch<CompiledCacheRule>, ex: Exchange): Lookup | Promise<Lookup> {
    const rule = m.rule
    const reason = requestBypassReason(rule, ex.headers, ex.user)
    if (reason !== undefined) {
      debug('bypass %s %s: %s', rule.name, ex.path, reason)
      return { type: 'bypass', reason }
    }
    const key = buildKey(this.#namespace, rule, ex)
    const now = Date.now()
    const entry = this.l1.get(key, now)
    if (entry !== undefined) {
      if (now < entry.staleAt && this.#state.isValid(entry)) return { type: 'hit', entry }
      this.l1.delete(key)
    }
    const marker = this.#markers.get(key, now)
    if (marker?.pass) return { type: 'bypass', reason: marker.reason }
    const flight = marker === undefined ? this.#flights.get(key) : undefined
    if (flight !== undefined && flight.waiters < this.#maxWaiters)
      return this.#wait(flight, m, ex, key)
    return {
      type: 'miss',
      fill: this.#startFill(m, ex, key, flight === undefined && marker === undefined),
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
    return { type: 'miss', fill: this.#startFill(m, ex, key, false) }
  }

  #startFill(m: RuleMatch<CompiledCacheRule>, ex: Exchange, key: string, leader: boolean): Fill {
    const rule = m.rule
    const vars: TemplateVars = { params: m.params, user: ex.user }
    if (ex.rawQuery !== '') vars.query = new URLSearchParams(ex.rawQuery)
    const tags = rule.tags.map((t) => t.render(vars))
    tags.push(rule.routeTag)
    if (rule.perUser && ex.user !== undefined) tags.push(userTag(ex.user))
    const fill = new Fill(this, {
      rule,
      key,
      path: ex.path,
      fence: this.#state.fence(tags),
      leader,
    })
    if (leader) this.#flights.set(key, new Flight())
    return fill
  }

  /** Called by a fill exactly once: store the entry if its fence holds, then release waiters. */
  complete(
    fill: Fill,
    entry: CacheEntry | undefined,
    reason: ResponseBypassReason | undefined,
  ): void {
    let stored: CacheEntry | undefined
    if (entry !== undefined) {
      const checkedUpTo = this.#state.fenceHolds(fill.fence, fill.path)
      if (checkedUpTo === false) {
        debug('not stored %s %s: invalidated while the origin ran', fill.rule.name, fill.path)
      } else {
        entry.patternSeq = checkedUpTo
        entry.validatedEpoch = this.#state.epoch
        if (this.l1.set(entry)) stored = entry
        this.#markers.delete(fill.key)
      }
    } else if (reason !== undefined) {
      debug('not stored %s %s: %s', fill.rule.name, fill.path, reason)
      this.#markers.set(fill.key, reason, Date.now() + Math.min(fill.rule.ttlMs, MARKER_MAX_MS))
    }
    if (fill.leader) {
      const flight = this.#flights.get(fill.key)
      if (flight !== undefined) {
        this.#flights.delete(fill.key)
        flight.settle(stored)
      }
    }
  }

  /** What a successful write matched by `m` invalidates. */
  writeTarget(m: RuleMatch<CompiledWriteRule>, ex: Exchange): NormalizedTarget {
    const spec = m.rule.invalidates
    const vars: TemplateVars = { params: m.params, user: ex.user }
    if (ex.rawQuery !== '') vars.query = new URLSearchParams(ex.rawQuery)
    return {
      tags: spec.tags.map((t) => t.render(vars)).filter((t) => t !== ''),
      patterns: spec.patterns,
      users: spec.user && ex.user !== undefined ? [ex.user] : [],
    }
  }

  /**
   * Invalidates by tags, path pattern or user. Resolves once the invalidation
   * is in effect: no response stored before the call is served afterwards.
   */
  async invalidate(target: InvalidationTarget): Promise<void> {
    await this.#apply(normalizeTarget(target))
  }

  /** Runs a write rule's invalidation; the adapter awaits it before sending the write's response. */
  async invalidateAfterWrite(m: RuleMatch<CompiledWriteRule>, ex: Exchange): Promise<void> {
    await this.#apply(this.writeTarget(m, ex))
  }

  async #apply(target: NormalizedTarget): Promise<void> {
    this.#state.apply(target, Date.now())
    debug('invalidated %o', target)
  }

  /** Drops every entry of the memory tier. */
  clear(): void {
    this.l1.clear()
  }

  async close(): Promise<void> {
    for (const flight of this.#flights.values()) flight.settle(undefined)
    this.#flights.clear()
  }
}
