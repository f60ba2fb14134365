import { debuglog } from 'node:util'
import { type CacheEntry, entrySize } from '../../entry/entry'
import { encodeVariants } from '../../http/encoding'
import type { ResponseBypassReason } from '../../http/storable'
import { fillEnded, stored } from '../../observe/outcomes'
import type { CompiledCacheRule } from '../../rules/types'
import type { MemoryTier } from '../../tiers/memory-tier'
import type { StoredResponse } from '../../tiers/remote-tier'
import type { Fill } from '../fill'
import type { Flight } from '../flight'
import type { RemotePath } from '../remote-path'
import { primaryKeyOf, variantIndex } from '../variants'
import { endRevalidation } from './revalidate'
import type { EngineState } from './state'

// The store stage: what a completed fill captured is stored when its fence
// still holds (in the shared tier first when there is one, then in memory),
// and the flight's waiters are released with it.

const debug = debuglog('cachet')

/** Longest time a "don't wait, don't capture" marker lasts after an unstorable response. */
export const MARKER_MAX_MS = 120_000

/** Whether the memory tier may serve and store now (the bus is healthy, or there is no shared tier). */
export function l1Usable(s: EngineState): boolean {
  return s.l1 !== undefined && (s.remote === undefined || s.remote.tier.trusted())
}

/** A shared tier's copy as a memory entry, fenced by `fence` (read before the copy was). */
export function toEntry(
  s: EngineState,
  key: string,
  r: StoredResponse,
  fence: Fill['fence'],
): CacheEntry {
  return {
    key,
    status: r.status,
    headers: r.headers,
    body: r.body,
    etag: r.etag,
    cachedAt: r.cachedAt,
    staleAt: r.staleAt,
    ...(r.expired === true ? { expired: true } : {}),
    deleteAt: Math.min(r.deleteAt, r.cachedAt + s.l1MaxTtlMs),
    tags: fence.tags,
    tagVersions: fence.versions,
    expireVersions: fence.expireVersions,
    path: r.path,
    patternSeq: fence.patternSeq,
    validatedEpoch: 0,
    size: entrySize(key, r.headers, r.body, fence.tags),
  }
}

/** Stores in the memory tier when it is usable and nothing was invalidated since `fence`. */
export function storeLocal(
  s: EngineState,
  entry: CacheEntry,
  fence: Fill['fence'],
  rule?: CompiledCacheRule,
): boolean {
  if (!l1Usable(s)) return false
  const checkedUpTo = s.local.fenceHolds(fence, entry.path)
  if (checkedUpTo === false) return false
  entry.patternSeq = checkedUpTo
  entry.validatedEpoch = s.local.epoch
  // An expire since the fill started: stored, as a stale copy.
  s.local.expiry(entry)
  if (rule?.compress === true && entry.encoded === undefined) {
    const encoded = encodeVariants(entry.status, entry.headers, entry.body)
    if (encoded !== undefined) {
      entry.encoded = encoded
      ;(entry as { size: number }).size += encoded.size
    }
  }
  if (s.l1MaxTtlMs !== Number.POSITIVE_INFINITY) {
    const cap = entry.cachedAt + s.l1MaxTtlMs
    if (entry.deleteAt > cap) (entry as { deleteAt: number }).deleteAt = cap
  }
  return (s.l1 as MemoryTier).set(entry)
}

/** Stores a fill's entry in the memory tier (counted), and the variant index beside it. */
function storeFill(s: EngineState, fill: Fill, entry: CacheEntry, index?: CacheEntry): boolean {
  const done = storeLocal(s, entry, fill.fence, fill.rule)
  if (done) stored(s, fill.rule, 'memory')
  if (done && index !== undefined) storeLocal(s, index, fill.fence, fill.rule)
  return done
}

/** Releases a flight's waiters; forgets the flight if it is still the key's. */
export function settle(
  s: EngineState,
  key: string,
  flight: Flight,
  entry: CacheEntry | undefined,
  stale?: 'error' | 'timeout',
): void {
  if (s.flights.get(key) === flight) s.flights.delete(key)
  flight.settle(entry, stale)
}

/** A fill's end, reported once: store the entry if its fence holds, then release waiters. */
export function complete(
  s: EngineState,
  fill: Fill,
  entry: CacheEntry | undefined,
  reason: ResponseBypassReason | undefined,
): void {
  // A 5xx an origin-driven rule may store (`statuses: 'any'`) never replaces
  // a copy this fill was to refresh, revalidate or stand in for: the origin
  // failed (RFC 9111 §4.3.3), and the good copy stays.
  if (
    entry !== undefined &&
    fill.failed &&
    (fill.revalidation || fill.detached || fill.stale !== undefined || fill.base !== undefined)
  ) {
    complete(s, fill, undefined, 'status')
    return
  }
  fillEnded(s, fill, entry, reason)
  if (s.slowKeys.size > 0) s.slowKeys.delete(fill.key)
  if (entry === undefined) {
    // A marker only for a response that will be refused again (a veto); an
    // origin failure (5xx, thrown, cut short) is no reason to stop coalescing.
    // Nor for a 304 naming another representation: the copy it was asked
    // about is outdated, and is dropped; the next request asks unconditionally.
    const mismatch = reason === 'validator-mismatch'
    const marked = reason !== undefined && !fill.failed && !mismatch
    if (marked) {
      debug('not stored %s %s: %s', fill.rule.name, fill.path, reason)
      s.markers.set(fill.key, reason, Date.now() + Math.min(fill.rule.ttlMs, MARKER_MAX_MS))
    }
    if (mismatch) s.l1?.delete(fill.storeKey)
    if (mismatch && fill.remote !== undefined && fill.base !== undefined)
      s.remote?.drop(fill, fill.base)
    else if (fill.remote !== undefined) s.remote?.abandon(fill, marked ? reason : undefined)
    if (fill.flight !== undefined)
      settle(s, fill.flightKey, fill.flight, undefined, fill.failed ? 'error' : undefined)
    if (fill.revalidation) endRevalidation(s, fill.key, 'not-stored', fill.rule.name)
    return
  }
  s.markers.delete(fill.key)
  // A variant (see variants.ts): its URI's key gets the index naming the headers it varies on.
  const index =
    fill.variantNames.length === 0
      ? undefined
      : variantIndex(primaryKeyOf(entry.key), fill.variantNames, entry, fill.rule.ttlMs)
  if (fill.remote === undefined) {
    const done = storeFill(s, fill, entry, index)
    if (!done)
      debug('not stored %s %s: invalidated while the origin ran', fill.rule.name, fill.path)
    if (fill.flight !== undefined) settle(s, fill.flightKey, fill.flight, done ? entry : undefined)
    if (fill.revalidation)
      endRevalidation(s, fill.key, done ? 'stored' : 'not-stored', fill.rule.name)
    return
  }
  // With a healthy bus this process has applied every invalidation reported
  // done, so its own fence is enough for the waiters here: they are not held
  // back by the shared tier's write. Without one, they wait for the shared
  // tier's fence (which knows every invalidation) to accept the entry.
  const remote = s.remote as RemotePath
  const trusted = remote.tier.coherent && remote.tier.trusted()
  let released = false
  if (trusted && fill.flight !== undefined) {
    const holds = s.local.fenceHolds(fill.fence, entry.path) !== false
    settle(s, fill.flightKey, fill.flight, holds ? entry : undefined)
    released = true
  }
  const writing = remote.write(fill, entry, index).then((written) => {
    // The shared tier's fence refused it: an invalidation this process may
    // not know of yet came after the fill started. When the tier could not
    // be asked, a healthy bus makes the local fence enough.
    if (written === true) stored(s, fill.rule, 'shared')
    const storable = written === true || (written === undefined && remote.tier.trusted())
    const done = storable && storeFill(s, fill, entry, index)
    if (fill.flight !== undefined && !released)
      settle(s, fill.flightKey, fill.flight, written === true ? entry : undefined)
    if (!done && written !== true) debug('not stored %s %s: fenced', fill.rule.name, fill.path)
    if (fill.revalidation)
      endRevalidation(
        s,
        fill.key,
        done || written === true ? 'stored' : 'not-stored',
        fill.rule.name,
      )
  })
  s.writes.add(writing)
  const written = () => void s.writes.delete(writing)
  writing.then(written, written)
}

/** Resolves once the fills completed so far are stored (or refused) in every tier. */
export async function settled(s: EngineState): Promise<void> {
  await Promise.allSettled([...s.writes])
}
