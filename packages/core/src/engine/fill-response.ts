import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { type CacheEntry, entrySize } from '../entry/entry'
import { sameEntityTag } from '../http/conditional'
import { headerString, mergeNotModified, storableHeaders } from '../http/headers'
import { type ResponseBypassReason, responseBypassReason } from '../http/storable'
import { policyHeaders } from '../http/targeted'
import type { FillFence } from '../invalidation/local-state'
import type { CompiledCacheRule } from '../rules/types'
import type { RemoteFence } from '../tiers/remote-tier'
import type { Flight } from './flight'
import { type OriginTimes, originEtag, originTimes } from './origin-times'
import { primaryKeyOf, variantKey, varyNames } from './variants'

// What a fill (fill.ts) starts from and makes of the origin's response: the
// headers that are its own, its verdict, and the entry it stores — from a
// whole response, or from a 304 merged into the copy it revalidated.

/**
 * The headers of `final` that the outer layers did not set (see
 * `Fill.setOuterHeaders`): new ones, changed ones, and of `Vary` the names
 * added after the cache.
 */
export function ownHeaders(
  final: OutgoingHttpHeaders,
  outer: OutgoingHttpHeaders,
): OutgoingHttpHeaders {
  const own: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(final)) {
    if (value === undefined) continue
    const before = outer[name]
    if (before === undefined) own[name] = value
    else if (name === 'vary') {
      const had = new Set(
        (headerString(before) ?? '').split(',').map((n) => n.trim().toLowerCase()),
      )
      const added = (headerString(value) ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '' && !had.has(n.toLowerCase()))
      if (added.length > 0) own.vary = added.join(', ')
    } else if (headerString(before) !== headerString(value)) own[name] = value
  }
  return own
}

/** Where a fill's entry belongs: the fence it was read under, and its path. */
export interface FillScope {
  readonly fence: FillFence
  readonly path: string
}

/** What a fill is started with (see `Fill`'s constructor). */
export interface FillInit extends FillScope {
  rule: CompiledCacheRule
  key: string
  flight?: Flight
  remote?: RemoteFence
  stale?: CacheEntry
  base?: CacheEntry
  revalidation?: boolean
  flightKey?: string
  /** Origin-driven rules: the request's headers as the client sent them. */
  request?: IncomingHttpHeaders
}

/** What `judgeResponse` decided for a response. */
export interface Judgement {
  /** Its own headers (see `ownHeaders`). */
  readonly own: OutgoingHttpHeaders
  /** Why it is not stored, if it is not. */
  readonly verdict: ResponseBypassReason | undefined
  /** Origin-driven: its times. */
  readonly times: OriginTimes | undefined
  /** The names of its `Vary` beyond the keyed headers (none: not a variant). */
  readonly variantNames: readonly string[]
  /** Where it is stored: `key`, or the variant key its `Vary` selects (see variants.ts). */
  readonly storeKey: string
}

/**
 * Judges a fill's response by its final status and `headers` (less those
 * `outer` had set): storable or not, and, origin-driven, its times and the
 * variant of `key` it is stored as, by the `request` headers its `Vary` names.
 */
export function judgeResponse(
  rule: CompiledCacheRule,
  key: string,
  status: number,
  headers: OutgoingHttpHeaders,
  r: {
    outer: OutgoingHttpHeaders | undefined
    request: IncomingHttpHeaders | undefined
    requestTime: number
    now: number
  },
): Judgement {
  const own = r.outer === undefined ? { ...headers } : ownHeaders(headers, r.outer)
  // Origin-driven: a valid targeted field (CDN-Cache-Control) in place of Cache-Control and Expires.
  let verdict = responseBypassReason(rule, status, policyHeaders(own, rule.targeted))
  let times: OriginTimes | undefined
  let variantNames: readonly string[] = []
  let storeKey = key
  if (verdict === undefined && rule.origin) {
    // Freshness from the full response: Date and Age are not stored, but count.
    times = originTimes(rule, status, policyHeaders(headers, rule.targeted), r.requestTime, r.now)
    if (times === undefined) verdict = 'no-lifetime'
    // A `Vary` beyond the keyed headers: stored as the variant this request selects.
    const names = varyNames(rule, own.vary)
    const primary = primaryKeyOf(key)
    variantNames = names === '*' ? [] : names
    storeKey =
      variantNames.length === 0 ? primary : variantKey(primary, variantNames, r.request ?? {})
  }
  return { own, verdict, times, variantNames, storeKey }
}

/**
 * The copy `base` refreshed by a `304` (RFC 9111 §3.2, §4.3.4), and why it
 * is not stored, if it is not: judged and timed as the full response would
 * be, from the merged headers and the 304's `Date` and `Age` (`headers`, the
 * response's final ones; those `outer` had set are not the 304's own). A 304
 * whose entity tag is not the copy's (`validator-mismatch`) changes nothing:
 * `base` itself, not stored.
 */
export function notModifiedEntry(
  rule: CompiledCacheRule,
  scope: FillScope,
  base: CacheEntry,
  r: {
    headers: OutgoingHttpHeaders
    outer: OutgoingHttpHeaders | undefined
    requestTime: number
    now: number
  },
  computed: (body: Buffer) => string,
): { entry: CacheEntry; verdict: ResponseBypassReason | undefined } {
  const { now } = r
  const own = r.outer === undefined ? { ...r.headers } : ownHeaders(r.headers, r.outer)
  const tag = headerString(own.etag)
  if (tag !== undefined && !sameEntityTag(tag, base.etag))
    return { entry: base, verdict: 'validator-mismatch' }
  // Fields a targeted field qualifies are left out as Cache-Control's are.
  const merged = mergeNotModified(
    base.headers,
    own,
    policyHeaders(own, rule.targeted)['cache-control'],
  )
  const full: OutgoingHttpHeaders = { date: r.headers.date, age: r.headers.age }
  for (let i = 0; i < merged.length; i += 2) {
    const name = merged[i] as string
    const prior = full[name]
    const value = merged[i + 1] as string
    full[name] = prior === undefined ? value : [...[prior].flat().map(String), value]
  }
  const etag = originEtag(base, computed)
  if (etag !== undefined) full.etag = etag
  const policy = policyHeaders(full, rule.targeted)
  let verdict = responseBypassReason(rule, base.status, policy)
  const times =
    verdict === undefined ? originTimes(rule, base.status, policy, r.requestTime, now) : undefined
  if (verdict === undefined && times === undefined) verdict = 'no-lifetime'
  const cachedAt = times?.cachedAt ?? now
  const staleAt = times?.staleAt ?? now
  const { fence, path } = scope
  const entry: CacheEntry = {
    key: base.key,
    status: base.status,
    headers: merged,
    body: base.body,
    etag: base.etag,
    cachedAt,
    staleAt,
    deleteAt: staleAt + (times?.staleMs ?? 0),
    tags: fence.tags,
    tagVersions: fence.versions,
    expireVersions: fence.expireVersions,
    path,
    patternSeq: fence.patternSeq,
    validatedEpoch: 0,
    size: entrySize(base.key, merged, base.body, fence.tags),
  }
  return { entry, verdict }
}

/** A whole response a fill captured, as the entry stored under `key`. */
export function capturedEntry(
  rule: CompiledCacheRule,
  scope: FillScope,
  r: {
    key: string
    status: number
    /** The response's own headers (see `ownHeaders`). */
    headers: OutgoingHttpHeaders
    body: Buffer
    etag: string | undefined
    times: OriginTimes | undefined
    headersAt: number
    now: number
  },
): CacheEntry {
  const policy = policyHeaders(r.headers, rule.targeted)
  const headers = storableHeaders(
    r.headers,
    policy === r.headers ? undefined : policy['cache-control'],
  )
  const { times, key, body } = r
  const cachedAt = times?.cachedAt ?? Math.min(r.headersAt, r.now)
  // `ttlJitter`: the copy's ttl, and its whole lifetime with it, cut by a random part.
  const cut = rule.ttlJitter > 0 ? Math.floor(Math.random() * rule.ttlJitter * rule.ttlMs) : 0
  const staleAt = times?.staleAt ?? cachedAt + rule.ttlMs - cut
  const { fence, path } = scope
  return {
    key,
    status: r.status,
    headers,
    body,
    etag: r.etag,
    cachedAt,
    staleAt,
    deleteAt: times === undefined ? cachedAt + rule.lifetimeMs - cut : staleAt + times.staleMs,
    tags: fence.tags,
    tagVersions: fence.versions,
    expireVersions: fence.expireVersions,
    path,
    patternSeq: fence.patternSeq,
    validatedEpoch: 0,
    size: entrySize(key, headers, body, fence.tags),
  }
}
