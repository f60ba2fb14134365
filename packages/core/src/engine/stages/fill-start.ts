import type { CacheEntry } from '../../entry/entry'
import type { FillFence } from '../../invalidation/local-state'
import { bypass, servedStale } from '../../observe/outcomes'
import type { CompiledCacheRule, RuleMatch } from '../../rules/types'
import type { RemoteFence, StoredResponse } from '../../tiers/remote-tier'
import type { Exchange } from '../exchange'
import { Fill } from '../fill'
import type { Flight } from '../flight'
import type { RemotePath } from '../remote-path'
import { isSlow, noteSlow } from '../slow-origin'
import { indexNames, variantKey } from '../variants'
import { freshHit, staleRevalidate } from './revalidate'
import type { EngineState, Lookup } from './state'
import { settle, storeLocal, toEntry } from './store'

// The fill stage, its start: a request that goes to the origin gets a `Fill`
// fenced against the invalidations of its tags. With a shared tier, it is
// read there first (and its fill lock taken): its copy may answer instead,
// or be the stale or conditional copy of the fill.

/** What the shared tier's read is asked for. */
export interface RemoteLookupFor {
  /** The flight this request leads, if any: the read also takes the fill lock. */
  flight: Flight | undefined
  /** The stale-if-error copy the memory tier held. */
  fallback?: CacheEntry
  /** Origin-driven: the copy a conditional request revalidates. */
  base?: CacheEntry
  /** A background refresh (see refresh.ts). */
  revalidate?: boolean
  /** The key of the flight led, when `key` is a variant's found in the shared tier's index. */
  flightKey?: string
}

/** A fill with no shared tier to read first. */
export function startFill(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
  key: string,
  tags: string[],
  flight: Flight | undefined,
  stale: CacheEntry | undefined,
  revalidation = false,
  base?: CacheEntry,
): Fill {
  return new Fill(s.sink, {
    rule: m.rule,
    key,
    path: ex.path,
    fence: s.local.fence(tags),
    flight,
    stale,
    base,
    revalidation,
    request: m.rule.origin ? { ...ex.headers } : undefined,
  })
}

/** A miss: read the shared tier first when there is one, else start the fill. */
export function toOrigin(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
  key: string,
  tags: string[],
  flight: Flight | undefined,
  fallback: CacheEntry | undefined,
  base?: CacheEntry,
): Lookup | Promise<Lookup> {
  if (s.remote !== undefined)
    // Never 'busy': only a revalidation is told about another process's lock.
    return lookupRemote(s, m, ex, key, tags, { flight, fallback, base }) as Promise<Lookup>
  return { type: 'miss', fill: startFill(s, m, ex, key, tags, flight, fallback, false, base) }
}

/** The shared tier's answer for `key`: a hit, a stale answer, a bypass, or a fill. */
export async function lookupRemote(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
  key: string,
  tags: string[],
  options: RemoteLookupFor,
): Promise<Lookup | 'busy'> {
  const remote = s.remote as RemotePath
  const { flight, revalidate = false } = options
  // Captured before the remote read: a bus message that arrives meanwhile
  // makes the promoted copy fail this fence.
  const fence = s.local.fence(tags)
  const found = await remote.lookup(key, tags, ex.path, {
    lock: flight !== undefined,
    rule: m.rule,
    revalidate,
    fallback: options.fallback !== undefined,
    // Only rules with an originTimeout are ever noted slow: no clock read for the others.
    slow: m.rule.originTimeout !== undefined && isSlow(s, key, Date.now()),
  })
  if (found.kind === 'index') {
    // The URI's responses vary: keep the index in memory, then look up the
    // variant this request selects (its own fill lock, its own copy).
    storeLocal(s, toEntry(s, key, found.response, fence), fence, m.rule)
    const variant = variantKey(key, indexNames(found.response), ex.headers)
    return lookupRemote(s, m, ex, variant, tags, { ...options, flightKey: key })
  }
  if (found.kind === 'hit' || found.kind === 'stale') {
    const entry = toEntry(s, key, found.response, fence)
    storeLocal(s, entry, fence, m.rule)
    if (flight !== undefined) settle(s, options.flightKey ?? key, flight, entry)
    if (found.kind === 'hit') return freshHit(s, m.rule, key, entry, 'shared', Date.now())
    return staleRevalidate(s, m.rule, key, entry, Date.now())
  }
  if (found.kind === 'slow') {
    const answer = slowAnswer(s, m, key, flight, options, found.stale, fence)
    if (answer !== undefined) return answer
  }
  if (found.kind === 'bypass' || (found.kind === 'miss' && found.busy === true)) {
    if (flight !== undefined) settle(s, options.flightKey ?? key, flight, undefined)
    return found.kind === 'bypass' ? bypass(s, m.rule, found.reason) : 'busy'
  }
  // Another process's fill was too slow and no copy may stand in: a fill of
  // this request's own, without the lock, and without the invalidated copies.
  const miss: { fence: RemoteFence | undefined; stale?: StoredResponse; base?: StoredResponse } =
    found.kind === 'slow' ? { fence: found.fence } : found
  // A background refresh answers nobody: it has no stale copy to stand in
  // for a failure (as without a shared tier), so a failed refresh is not
  // counted as a stale answer.
  const stale =
    revalidate || found.kind === 'slow'
      ? undefined
      : miss.stale !== undefined
        ? toEntry(s, key, miss.stale, fence)
        : options.fallback
  const base =
    miss.base !== undefined
      ? miss.base === miss.stale && stale !== undefined
        ? stale
        : toEntry(s, key, miss.base, fence)
      : found.kind === 'slow'
        ? undefined
        : options.base
  return {
    type: 'miss',
    fill: new Fill(s.sink, {
      rule: m.rule,
      key,
      path: ex.path,
      fence,
      flight,
      remote: miss.fence,
      stale,
      base,
      revalidation: revalidate,
      flightKey: options.flightKey,
      request: m.rule.origin ? { ...ex.headers } : undefined,
    }),
  }
}

/**
 * Another process's fill is slower than the rule's `originTimeout`: the
 * stale copy answers (and this process's waiters serve theirs), or the
 * rule's `hardStatus`. No origin call from here: that fill goes on.
 */
function slowAnswer(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  key: string,
  flight: Flight | undefined,
  options: RemoteLookupFor,
  shared: StoredResponse | undefined,
  fence: FillFence,
): Lookup | undefined {
  const now = Date.now()
  // Only a copy nothing invalidated since it was read (the wait took a while).
  const copy = shared !== undefined ? toEntry(s, key, shared, fence) : undefined
  const stale = [copy, options.fallback].find((e) => e !== undefined && s.local.isValid(e))
  const hardStatus = m.rule.originTimeout?.hardStatus
  // No copy may answer, and the rule makes no answer of its own: to the origin after all.
  if (stale === undefined && hardStatus === undefined) return undefined
  if (flight !== undefined) settle(s, options.flightKey ?? key, flight, undefined, 'timeout')
  noteSlow(s, key, now)
  if (stale === undefined) return { type: 'timeout', status: hardStatus as 503 | 504 }
  // Kept in memory, where the next requests find it for as long as the key is slow.
  if (stale === copy) storeLocal(s, stale, fence, m.rule)
  servedStale(s, m.rule, 'timeout', stale, now)
  return { type: 'stale', entry: stale, reason: 'timeout', refresh: undefined }
}
