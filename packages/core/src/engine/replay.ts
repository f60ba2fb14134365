import { entryCdnHeaders, privateCacheControl } from '../cdn/headers'
import type { CompiledCdn } from '../cdn/options'
import type { CacheEntry } from '../entry/entry'
import { type Conditionals, notModified } from '../http/conditional'
import { chooseCoding, codedEtag } from '../http/encoding'
import type { StaleReason } from '../observe/events'
import { cacheStatusHit, cacheStatusRevalidated, cacheStatusStale } from './status-headers'

/** What an adapter writes for a hit: status, a flat header list, and the body (none for HEAD or 304). */
export interface Replay {
  readonly status: number
  readonly headers: string[]
  readonly body: Buffer | undefined
}

/** RFC 9110 §15.4.5: the fields a 304 carries, as the 200 would have. */
const NOT_MODIFIED_FIELDS = new Set([
  'cache-control',
  'content-location',
  'expires',
  'vary',
  'last-modified',
])

/** Stored fields a rule's `cacheControl` replaces: what the route said clients may keep. */
const CLIENT_FRESHNESS_FIELDS = new Set(['cache-control', 'expires'])

/** A copy served past its ttl: why, and whether this request's own origin call failed (and how). */
export interface StaleReplay {
  readonly reason: StaleReason
  /** This request went to the origin (stale-if-error after its own call failed). */
  readonly forwarded?: boolean
  /** The origin's 5xx status; absent when it threw. */
  readonly originStatus?: number
}

/** `ttl: 'origin'`: the stored copy, just revalidated by the origin's `304` (`Fill.notModified`). */
export interface RevalidatedReplay {
  readonly reason: 'revalidated'
  /** The 304 named another entity tag: the copy went out as it was, stale (`validator-mismatch`). */
  readonly mismatch?: boolean
}

/**
 * Builds a hit's response from the stored entry: the stored end-to-end headers,
 * `Content-Length`, `ETag`, `Age` (RFC 9111 §5.1), `X-Cache` and
 * `Cache-Status`; `304` when the request's `If-None-Match` or
 * `If-Modified-Since` says its copy of a stored 200 is current. With
 * `stale`, `X-Cache: STALE` and a `Cache-Status` with a negative ttl; with
 * `revalidated`, `X-Cache: HIT` and `Cache-Status: …; fwd=stale; fwd-status=304`
 * (`STALE` and `detail=validator-mismatch` when the 304 named another tag).
 * With `cacheControl` (the rule's), that `Cache-Control` goes out in place of
 * the stored `Cache-Control` and `Expires`, as it is: the `Age` beside it
 * already tells a client how much of its `max-age` is gone (RFC 9111 §4.2.3).
 */
export function replay(
  entry: CacheEntry,
  now: number,
  conditionals: Conditionals | undefined,
  head: boolean,
  stale?: StaleReplay | RevalidatedReplay,
  out?: ClientHeaders,
): Replay {
  const cacheControl = out?.cacheControl
  const age = String(Math.max(0, Math.floor((now - entry.cachedAt) / 1000)))
  const outcome =
    stale === undefined || (stale.reason === 'revalidated' && stale.mismatch !== true)
      ? 'HIT'
      : 'STALE'
  const status =
    stale === undefined
      ? cacheStatusHit(Math.max(0, Math.ceil((entry.staleAt - now) / 1000)))
      : stale.reason === 'revalidated'
        ? cacheStatusRevalidated(Math.ceil((entry.staleAt - now) / 1000), stale.mismatch === true)
        : cacheStatusStale(
            -Math.ceil((now - entry.staleAt) / 1000),
            stale.reason,
            stale.forwarded === true,
            stale.originStatus,
          )
  // A `compress` rule's copy: the coding the client prefers, under its own validator.
  const encoded = entry.encoded
  const coding =
    encoded === undefined ? undefined : chooseCoding(conditionals?.['accept-encoding'], encoded)
  const kept = encoded === undefined ? entry.headers : encoded.headers
  const found = out?.cdn === undefined ? undefined : entryCdnHeaders(out.cdn, entry)
  // A stale copy is not for the CDN to keep: its lifetime there is 0 (the
  // CDN asks again, and finds the refreshed copy), whatever the rule says.
  const cdn =
    found !== undefined && outcome === 'STALE' && out?.cdn?.config.ttlHeader !== undefined
      ? staleForCdn(found.headers, out.cdn.config.ttlHeader)
      : found?.headers
  let own = cacheControl === undefined ? undefined : withCacheControl(kept, cacheControl)
  if (found !== undefined && ((cdn?.length ?? 0) > 0 || found.privatize)) {
    // In place of any the route sent itself, as on the miss.
    const names = new Set(cdn?.filter((_, i) => i % 2 === 0))
    own = (own ?? kept).filter((_, i, all) => !names.has(all[i - (i % 2)] as string))
    if (found.privatize) privatize(own)
    own.push(...(cdn ?? []))
  }
  const stored = own ?? kept
  const body = coding === undefined ? entry.body : (encoded?.[coding] as Buffer)
  const etag =
    coding === undefined || entry.etag === undefined ? entry.etag : codedEtag(entry.etag, coding)
  const validators = etag === entry.etag ? entry : { ...entry, etag }
  if (notModified(validators, conditionals)) {
    const headers: string[] = []
    for (let i = 0; i < stored.length; i += 2) {
      if (NOT_MODIFIED_FIELDS.has(stored[i] as string)) {
        headers.push(stored[i] as string, stored[i + 1] as string)
      }
    }
    // A 304 updates what the CDN stored: its tags and lifetime go with it.
    if (cdn !== undefined) headers.push(...cdn)
    if (etag !== undefined) headers.push('etag', etag)
    headers.push('age', age, 'x-cache', outcome, 'cache-status', status)
    return { status: 304, headers, body: undefined }
  }
  const headers = own ?? kept.slice()
  if (coding !== undefined) headers.push('content-encoding', coding)
  // A byte range of a stored 200 (RFC 9110 §14): the part asked for, 206.
  // GET only (§14.2: a server ignores Range on other methods).
  const range =
    entry.status === 200 && !head && coding === undefined && conditionals?.range !== undefined
      ? byteRange(conditionals, body.length, etag)
      : undefined
  if (range !== undefined) {
    // Digests of the whole body do not describe the part sent.
    for (let i = headers.length - 2; i >= 0; i -= 2)
      if (headers[i] === 'content-md5' || headers[i] === 'content-digest') headers.splice(i, 2)
    const [start, end] = range
    headers.push('content-range', `bytes ${start}-${end}/${body.length}`)
    headers.push('content-length', String(end - start + 1))
  } else headers.push('content-length', String(body.length))
  if (etag !== undefined) headers.push('etag', etag)
  headers.push('age', age, 'x-cache', outcome, 'cache-status', status)
  if (range !== undefined)
    return { status: 206, headers, body: head ? undefined : body.subarray(range[0], range[1] + 1) }
  return { status: entry.status, headers, body: head ? undefined : body }
}

/**
 * The one byte range a request asks of a body of `length` bytes, inclusive
 * (`bytes=0-4`, `bytes=10-`, `bytes=-5`), when it may be answered from the
 * copy: `If-Range`, if sent, is the copy's strong entity tag (§13.1.5).
 * `undefined` (send the whole copy, as §14.2 allows) for several ranges, a
 * malformed or unsatisfiable one, another unit, or an `If-Range` that does
 * not match (a date included: the copy's Last-Modified is not compared).
 */
function byteRange(
  c: Conditionals,
  length: number,
  etag: string | undefined,
): [number, number] | undefined {
  const ifRange = c['if-range']
  if (
    ifRange !== undefined &&
    (etag === undefined || etag.startsWith('W/') || ifRange.trim() !== etag)
  )
    return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(c.range ?? '')
  if (m === null || length === 0) return undefined
  const [, first = '', last = ''] = m
  if (first === '' && last === '') return undefined
  if (first === '') {
    const suffix = Number(last)
    return suffix === 0 ? undefined : [Math.max(0, length - suffix), length - 1]
  }
  const start = Number(first)
  const end = last === '' ? length - 1 : Math.min(Number(last), length - 1)
  return start >= length || end < start ? undefined : [start, end]
}

/** What a rule changes of the stored headers on the way out: its `cacheControl`, its CDN headers. */
export interface ClientHeaders {
  readonly cacheControl?: string | undefined
  readonly cdn?: CompiledCdn | undefined
}

/** The CDN headers of a stale answer: the CDN's lifetime 0 (a `no-store` stays). */
function staleForCdn(headers: readonly string[], ttlHeader: string): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string
    const value = headers[i + 1] as string
    out.push(name, name === ttlHeader && value !== 'no-store' ? 'max-age=0' : value)
  }
  if (!out.includes(ttlHeader)) out.push(ttlHeader, 'max-age=0')
  return out
}

/** `Cache-Control` in `headers` (flat, lower case) made `private`, in place. */
function privatize(headers: string[]): void {
  const at = headers.indexOf('cache-control')
  const value = at >= 0 && at % 2 === 0 ? headers[at + 1] : undefined
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i] !== 'cache-control') out.push(headers[i] as string, headers[i + 1] as string)
  out.push('cache-control', privateCacheControl(value))
  headers.splice(0, headers.length, ...out)
}

/** `headers` with `cacheControl` in place of their own `Cache-Control` and `Expires`. */
function withCacheControl(headers: readonly string[], cacheControl: string): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string
    if (!CLIENT_FRESHNESS_FIELDS.has(name)) out.push(name, headers[i + 1] as string)
  }
  out.push('cache-control', cacheControl)
  return out
}
