import { debuglog } from 'node:util'
import type { CacheEntry } from '../../entry/entry'
import { bypass, hit } from '../../observe/outcomes'
import { onlyIfCached, requestBypassReason } from '../../rules/request-filter'
import type { CompiledCacheRule, RuleMatch } from '../../rules/types'
import type { Exchange } from '../exchange'
import { storedWindows } from '../stale-windows'
import { indexNames, VARIANT_INDEX_STATUS, variantKey } from '../variants'
import { leadFlight, liveFlight, wait } from './coalesce'
import { toOrigin } from './fill-start'
import { keyOf, tagsFor } from './match'
import { freshHit, refreshAheadClaimable, staleRevalidate } from './revalidate'
import type { EngineState, Lookup } from './state'
import { l1Usable, storeLocal, toEntry } from './store'

// The lookup stage: a request matched to a cache rule is looked up in the
// memory tier, then (through the coalesce and fill stages) in the shared
// tier or at the origin.

const debug = debuglog('cachet')

/**
 * A usable memory entry for `key`: fresh, or past its ttl inside one of
 * the rule's stale windows (no allocation: this is the hit path). An
 * invalid or unusable one is dropped.
 */
export function memoryFind(
  s: EngineState,
  rule: CompiledCacheRule,
  key: string,
  now: number,
): CacheEntry | undefined {
  if (s.l1 === undefined) return undefined
  const entry = s.l1.get(key, now)
  if (entry === undefined) return undefined
  if (
    s.local.isValid(entry) &&
    l1Usable(s) &&
    // An origin-driven copy is kept exactly as long as its own windows (deleteAt).
    (now < entry.staleAt || rule.origin || now - entry.staleAt < rule.lifetimeMs - rule.ttlMs)
  )
    return entry
  s.l1.delete(key)
  return undefined
}

/**
 * The key of the variant `ex` selects when the memory tier holds a variant
 * index at `key` (see variants.ts); otherwise `key`.
 */
export function variantOf(
  s: EngineState,
  rule: CompiledCacheRule,
  key: string,
  ex: Exchange,
  now: number,
): string {
  if (!rule.origin) return key
  const index = memoryFind(s, rule, key, now)
  return index !== undefined && index.status === VARIANT_INDEX_STATUS
    ? variantKey(key, indexNames(index), ex.headers)
    : key
}

/** A fresh memory hit for a request, or nothing — never a fill, never a wait. */
export function peek(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
): CacheEntry | undefined {
  if (
    m.rule.perUser ||
    requestBypassReason(m.rule, ex.headers, undefined, ex.rawQuery, ex.tenant) !== undefined
  )
    return undefined
  const now = Date.now()
  const key = variantOf(s, m.rule, keyOf(s, m.rule, ex), ex, now)
  const entry = memoryFind(s, m.rule, key, now)
  if (entry === undefined || now >= entry.staleAt) return undefined
  // A hit that is to start a refresh ahead of expiry goes on to the app,
  // which can make the refresh's internal request.
  if (m.rule.refreshAhead > 0 && refreshAheadClaimable(s, m.rule, entry, now)) return undefined
  s.top?.record(m.rule, key, ex.path, ex.rawQuery, false)
  hit(s, m.rule, entry, 'memory')
  return entry
}

/** Hit, stale, bypass or miss; synchronous on a memory hit and when there is no shared tier. */
export function lookup(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
): Lookup | Promise<Lookup> {
  const rule = m.rule
  const reason = requestBypassReason(rule, ex.headers, ex.user, ex.rawQuery, ex.tenant)
  if (reason !== undefined) {
    debug('bypass %s %s: %s', rule.name, ex.path, reason)
    return bypass(s, rule, reason)
  }
  let key = keyOf(s, rule, ex)
  const now = Date.now()
  let entry = memoryFind(s, rule, key, now)
  if (entry !== undefined && entry.status === VARIANT_INDEX_STATUS) {
    // Origin-driven: the URI's responses vary; read the variant this request selects.
    key = variantKey(key, indexNames(entry), ex.headers)
    entry = memoryFind(s, rule, key, now)
  }
  // Counted on every lookup; a key enters the list only on a memory miss.
  s.top?.record(rule, key, ex.path, ex.rawQuery, entry === undefined)
  if (entry !== undefined) {
    if (now < entry.staleAt)
      return rule.refreshAhead > 0
        ? freshHit(s, rule, key, entry, 'memory', now)
        : hit(s, rule, entry, 'memory')
    if (now - entry.staleAt < storedWindows(rule, entry.headers).swrMs)
      return staleRevalidate(s, rule, key, entry, now)
  }
  if (onlyIfCached(ex.headers)) return lookupOnlyIfCached(s, m, ex, key)
  // Past the ttl and stale-while-revalidate: what is left is the
  // stale-if-error copy, for when the origin fails, and, origin-driven, the
  // copy a conditional request revalidates.
  const fallback =
    entry !== undefined && now - entry.staleAt < storedWindows(rule, entry.headers).sieMs
      ? entry
      : undefined
  const base = rule.origin ? entry : undefined
  const marker = s.markers.get(key, now)
  if (marker?.pass) return bypass(s, rule, marker.reason)
  const flight = marker === undefined ? liveFlight(s, key, now) : undefined
  if (flight !== undefined && flight.waiters < s.maxWaiters)
    return wait(s, flight, m, ex, key, fallback, () => lookup(s, m, ex))
  const lead = flight === undefined && marker === undefined ? leadFlight(s, key) : undefined
  return toOrigin(s, m, ex, key, tagsFor(m, ex), lead, fallback, base)
}

/**
 * `only-if-cached` without a usable memory copy: the shared tier is read
 * once (no fill lock, no wait for another process's fill); nothing there
 * means 504. Counted as a bypass (`only-if-cached`): the origin is not asked.
 */
function lookupOnlyIfCached(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
  key: string,
): Lookup | Promise<Lookup> {
  const unavailable = (): Lookup => {
    bypass(s, m.rule, 'only-if-cached')
    return { type: 'unavailable' }
  }
  const remote = s.remote
  if (remote === undefined) return unavailable()
  const tags = tagsFor(m, ex)
  const fence = s.local.fence(tags)
  const read = (k: string): Promise<Lookup> =>
    remote.peek(k, tags, ex.path, m.rule).then((found) => {
      if (found === undefined) return unavailable()
      if (found.kind === 'index') {
        storeLocal(s, toEntry(s, k, found.response, fence), fence, m.rule)
        return read(variantKey(k, indexNames(found.response), ex.headers))
      }
      const entry = toEntry(s, k, found.response, fence)
      storeLocal(s, entry, fence, m.rule)
      if (found.kind === 'hit') return hit(s, m.rule, entry, 'shared')
      return staleRevalidate(s, m.rule, k, entry, Date.now())
    })
  return read(key)
}
