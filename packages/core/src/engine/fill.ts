import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import { type CacheEntry, entrySize } from '../entry/entry'
import { parseCacheControl, unqualifiedNoCache } from '../http/cache-control'
import { sameEntityTag, strongEtag } from '../http/conditional'
import { currentAge, freshnessLifetime } from '../http/freshness'
import { headerString, mergeNotModified, storableHeaders } from '../http/headers'
import { type ResponseBypassReason, responseBypassReason } from '../http/storable'
import type { FillFence } from '../invalidation/local-state'
import type { CompiledCacheRule } from '../rules/types'
import type { RemoteFence } from '../tiers/remote-tier'
import type { Flight } from './flight'
import { windowsOf } from './stale-windows'
import { primaryKeyOf, variantKey, varyNames } from './variants'

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

/** A stored copy's times in origin-driven mode (epoch ms). */
interface OriginTimes {
  /** When the copy was generated: the response time minus its age then (so `Age` counts from it). */
  cachedAt: number
  staleAt: number
  /**
   * How long past `staleAt` it is kept: its longest stale window (see
   * `windowsOf`), or, when the origin gave it a validator, the rule's
   * `maxTtl`, for a conditional request to revalidate it.
   */
  staleMs: number
}

/** Whether the origin gave a response a validator a conditional request can carry (RFC 9110 §8.8). */
export function hasOriginValidator(headers: OutgoingHttpHeaders): boolean {
  return headers.etag !== undefined || headers['last-modified'] !== undefined
}

/**
 * A stored copy's entity tag when the origin gave it, not the strong one the
 * cache computed from the body for a 200 without one: sent in
 * `If-None-Match`, that one would only make the origin ignore
 * `If-Modified-Since` (RFC 9110 §13.1.3) without ever matching.
 */
export function originEtag(
  entry: CacheEntry,
  computed: (body: Buffer) => string = strongEtag,
): string | undefined {
  const etag = entry.etag
  return etag === undefined || etag === computed(entry.body) ? undefined : etag
}

/**
 * `ttl: 'origin'`: the freshness the response's own headers give it (RFC 9111
 * §4.2.1, heuristics §4.2.2; none under an unqualified `no-cache`, §5.2.2.4),
 * at most the rule's `maxTtl`, less the age it already had (§4.2.3: `Age`,
 * and the time since its `Date`). Kept past it for its stale windows
 * (`windowsOf`) and, a 200 with a validator, up to `maxTtl` for
 * revalidation (§4.3); `undefined` when there is no freshness left and
 * nothing to revalidate.
 */
export function originTimes(
  rule: CompiledCacheRule,
  status: number,
  headers: OutgoingHttpHeaders,
  requestTime: number,
  responseTime: number,
): OriginTimes | undefined {
  const cc = parseCacheControl(headers['cache-control'])
  const { lifetimeMs } = freshnessLifetime({ status, headers }, { shared: true, responseTime })
  const ageMs = currentAge({ headers, requestTime, responseTime, now: responseTime })
  const lifetime = unqualifiedNoCache(cc) ? 0 : Math.min(lifetimeMs, rule.ttlMs)
  // Only a 200 is revalidated (a 304 is what a conditional request can bring).
  const revalidable = status === 200 && hasOriginValidator(headers)
  if (lifetime - ageMs <= 0 && !revalidable) return undefined
  const cachedAt = responseTime - ageMs
  const windows = windowsOf(cc, rule)
  const keep = Math.max(windows.swrMs, windows.sieMs, revalidable ? rule.ttlMs : 0)
  return { cachedAt, staleAt: cachedAt + lifetime, staleMs: keep }
}

/** What the engine does with a finished fill. */
export interface FillSink {
  complete(
    fill: Fill,
    entry: CacheEntry | undefined,
    reason: ResponseBypassReason | undefined,
  ): void
  /** The adapter served the fill's stale-if-error copy instead of the origin's failure. */
  servedStale(fill: Fill, entry: CacheEntry): void
  /** Whether a stale copy may still be served (nothing invalidated it since it was read). */
  staleUsable(entry: CacheEntry): boolean
}

/**
 * Records one origin response for a miss. The adapter calls `onHeaders` once
 * the status and headers are final (before they are written), `onChunk` for
 * each body chunk, then exactly one of `onEnd` or `onAbort`. Capture stops
 * for good once the body passes the rule's size cap: nothing is buffered past
 * it, and the response goes on to the client untouched.
 */
export class Fill {
  readonly rule: CompiledCacheRule
  /** The key looked up (and, with a shared tier, locked): the URI's, or the variant's when its index was known. */
  readonly key: string
  /** The key of the flight this fill leads (the URI's key, when the variant was not known yet). */
  readonly flightKey: string
  readonly path: string
  readonly fence: FillFence
  /** The flight other requests wait on, when this fill leads one. */
  readonly flight: Flight | undefined
  /** The shared tier's fence, when the fill may be stored there. */
  readonly remote: RemoteFence | undefined
  readonly #stale: CacheEntry | undefined
  /** `ttl: 'origin'`: the stored copy a conditional request revalidates (see `conditionalHeaders`). */
  readonly #base: CacheEntry | undefined
  /** Origin-driven: the client's request headers, for the variant its response's `Vary` selects. */
  readonly #request: IncomingHttpHeaders | undefined
  /** Where the response is stored: `key`, or the variant key its `Vary` selects (see variants.ts). */
  #storeKey: string
  /** The names of the response's `Vary` beyond the keyed headers (none: not a variant). */
  #variantNames: readonly string[] = []
  /** A background refresh (stale-while-revalidate): nobody waits for its response. */
  readonly revalidation: boolean
  #sink: FillSink
  #chunks: Buffer[] = []
  #bytes = 0
  #status = 0
  #headers: OutgoingHttpHeaders = {}
  /** The response's headers when the route was called: the outer layers', not the route's. */
  #outer: OutgoingHttpHeaders | undefined
  #headersAt = 0
  #verdict: ResponseBypassReason | undefined
  #capturing = false
  #revalidating = false
  #finished = false
  #aborted = false
  /** The strong ETag an adapter had computed for the whole body (`strongEtag`), kept for the entry. */
  #etag: { readonly body: Buffer; readonly tag: string } | undefined
  readonly #startedAt = performance.now()
  /** When the request went to the origin (epoch ms): RFC 9111 §4.2.3's request_time. */
  readonly #requestTime = Date.now()
  /** `ttl: 'origin'`: the stored copy's times, from the response's own headers. */
  #originTimes: OriginTimes | undefined
  /** How long the origin took, from the fill's start to the end of its body (0 until then). */
  originSeconds = 0

  constructor(
    sink: FillSink,
    init: {
      rule: CompiledCacheRule
      key: string
      path: string
      fence: FillFence
      flight?: Flight
      remote?: RemoteFence
      stale?: CacheEntry
      base?: CacheEntry
      revalidation?: boolean
      flightKey?: string
      /** Origin-driven rules: the request's headers as the client sent them. */
      request?: IncomingHttpHeaders
    },
  ) {
    this.#sink = sink
    this.rule = init.rule
    this.key = init.key
    this.flightKey = init.flightKey ?? init.key
    this.#storeKey = init.key
    this.#request = init.rule.origin ? init.request : undefined
    this.path = init.path
    this.fence = init.fence
    this.flight = init.flight
    this.remote = init.remote
    this.#stale = init.stale
    this.#base = init.rule.origin ? init.base : undefined
    this.revalidation = init.revalidation ?? false
  }

  /**
   * A copy past its ttl inside the rule's `staleIfError` window: the adapter
   * serves it instead of a 5xx or a thrown error. Checked on every read: a
   * copy invalidated while the origin ran is no longer offered.
   */
  get stale(): CacheEntry | undefined {
    const stale = this.#stale
    return stale !== undefined && this.#sink.staleUsable(stale) ? stale : undefined
  }

  /** The cache held a copy past its freshness when it sent this request to the origin. */
  get forwardedStale(): boolean {
    return this.#stale !== undefined || this.#revalidating
  }

  /**
   * `ttl: 'origin'` with a stored copy past its freshness (RFC 9111 §4.3.1):
   * the validators the route's request carries in place of the client's own
   * conditionals — `If-None-Match` with the copy's entity tag, and
   * `If-Modified-Since` with its `Last-Modified`. A `304` in answer is
   * merged into the copy (`notModified`), never sent on to a client that did
   * not ask for it. `undefined` when there is no usable copy to revalidate.
   */
  conditionalHeaders(): { 'if-none-match'?: string; 'if-modified-since'?: string } | undefined {
    const base = this.#base
    if (base === undefined || base.status !== 200 || !this.#sink.staleUsable(base)) return undefined
    const out: { 'if-none-match'?: string; 'if-modified-since'?: string } = {}
    const etag = originEtag(base, (body) => this.strongEtag(body))
    if (etag !== undefined) out['if-none-match'] = etag
    for (let i = 0; i < base.headers.length; i += 2)
      if (base.headers[i] === 'last-modified') out['if-modified-since'] = base.headers[i + 1]
    return out['if-none-match'] === undefined && out['if-modified-since'] === undefined
      ? undefined
      : out
  }

  /** The stored copy this fill revalidates, if any. */
  get base(): CacheEntry | undefined {
    return this.#base
  }

  /** Whether the route's request was made conditional on the stored copy (`conditionalHeaders`). */
  get revalidating(): boolean {
    return this.#revalidating
  }

  /** The adapter sent the route `conditionalHeaders()`: a `304` from it is to be merged. */
  markRevalidating(): void {
    this.#revalidating = this.#base !== undefined
  }

  /** The headers the outer layers had set when the route was called (see `setOuterHeaders`). */
  get outerHeaders(): OutgoingHttpHeaders {
    return this.#outer ?? {}
  }

  /**
   * The route answered the conditional request `304 Not Modified`: the stored
   * copy is still the current representation. Its headers are updated from
   * the 304's (RFC 9111 §3.2, §4.3.4), its freshness is computed afresh from
   * them, and the refreshed copy is stored and returned, for the adapter to
   * send as the answer. A 304 whose entity tag is not the copy's
   * (`validator-mismatch`) updates nothing: the copy is sent once more, as
   * stale, and dropped (`Fill.base`, see the engine's `complete`), so that the
   * next request goes to the origin unconditionally.
   */
  notModified(headers: OutgoingHttpHeaders, now = Date.now()): CacheEntry {
    const base = this.#base
    if (base === undefined || !this.#revalidating)
      throw new Error('notModified() on a fill that did not revalidate a stored copy')
    const own = this.#outer === undefined ? { ...headers } : ownHeaders(headers, this.#outer)
    this.#status = 304
    this.#headersAt = now
    this.#capturing = false
    const tag = headerString(own.etag)
    if (tag !== undefined && !sameEntityTag(tag, base.etag)) {
      this.#verdict = 'validator-mismatch'
      this.#storeKey = base.key
      this.#finish(undefined)
      return base
    }
    const merged = mergeNotModified(base.headers, own)
    // Judged and timed as the full response would be: the 304's Date and Age count.
    const full: OutgoingHttpHeaders = { date: headers.date, age: headers.age }
    for (let i = 0; i < merged.length; i += 2) {
      const name = merged[i] as string
      const prior = full[name]
      const value = merged[i + 1] as string
      full[name] = prior === undefined ? value : [...[prior].flat().map(String), value]
    }
    const etag = originEtag(base, (body) => this.strongEtag(body))
    if (etag !== undefined) full.etag = etag
    this.#verdict = responseBypassReason(this.rule, base.status, full)
    const times =
      this.#verdict === undefined
        ? originTimes(this.rule, base.status, full, this.#requestTime, now)
        : undefined
    if (this.#verdict === undefined && times === undefined) this.#verdict = 'no-lifetime'
    const cachedAt = times?.cachedAt ?? now
    const staleAt = times?.staleAt ?? now
    // The copy's own key (a variant's, when it is one); no index to write.
    this.#storeKey = base.key
    const entry: CacheEntry = {
      key: base.key,
      status: base.status,
      headers: merged,
      body: base.body,
      etag: base.etag,
      cachedAt,
      staleAt,
      deleteAt: staleAt + (times?.staleMs ?? 0),
      tags: this.fence.tags,
      tagVersions: this.fence.versions,
      path: this.path,
      patternSeq: this.fence.patternSeq,
      validatedEpoch: 0,
      size: entrySize(base.key, merged, base.body, this.fence.tags),
    }
    this.#finish(this.#verdict === undefined ? entry : undefined)
    return entry
  }

  /** The origin failed: a 5xx, or the response ended early (a thrown error, a reset). */
  get failed(): boolean {
    return this.#aborted || this.#status >= 500
  }

  /** The origin's status, once its headers are known (0 before). */
  get status(): number {
    return this.#status
  }

  /**
   * The headers already on the response when the adapter hands the request to
   * the route: set by middleware mounted before the cache (CORS, a
   * compressor's `Vary: Accept-Encoding`), which sets them again on every
   * request, hits included. They are neither stored nor judged: only what the
   * route and the layers after the cache add or change is (`ownHeaders`).
   */
  setOuterHeaders(headers: OutgoingHttpHeaders): void {
    this.#outer = Object.keys(headers).length === 0 ? undefined : { ...headers }
  }

  /** Decides storability from the final status and headers; returns the veto, if any. */
  onHeaders(
    status: number,
    headers: OutgoingHttpHeaders,
    now = Date.now(),
  ): ResponseBypassReason | undefined {
    if (this.#headersAt !== 0) return this.#verdict
    const own = this.#outer === undefined ? { ...headers } : ownHeaders(headers, this.#outer)
    this.#status = status
    this.#headers = own
    this.#headersAt = now
    this.#verdict = responseBypassReason(this.rule, status, own)
    if (this.#verdict === undefined && this.rule.origin) {
      // Freshness from the full response: Date and Age are not stored, but count.
      this.#originTimes = originTimes(this.rule, status, headers, this.#requestTime, now)
      if (this.#originTimes === undefined) this.#verdict = 'no-lifetime'
      // A `Vary` beyond the keyed headers: stored as the variant this request selects.
      const names = varyNames(this.rule, own.vary)
      const primary = primaryKeyOf(this.key)
      this.#variantNames = names === '*' ? [] : names
      this.#storeKey =
        this.#variantNames.length === 0
          ? primary
          : variantKey(primary, this.#variantNames, this.#request ?? {})
    }
    this.#capturing = this.#verdict === undefined
    if (this.#verdict !== undefined) this.#finish(undefined)
    return this.#verdict
  }

  /** The key the entry is stored under (known once the headers are). */
  get storeKey(): string {
    return this.#storeKey
  }

  /** The request headers the response's `Vary` selects by, beyond the keyed ones (see variants.ts). */
  get variantNames(): readonly string[] {
    return this.#variantNames
  }

  /** Whether this fill leads a flight that other requests wait on. */
  get leader(): boolean {
    return this.flight !== undefined
  }

  /** Why the response is not being stored, once known. */
  get veto(): ResponseBypassReason | undefined {
    return this.#verdict
  }

  /** Whether the body is still being captured (false once vetoed or over the cap). */
  get capturing(): boolean {
    return this.#capturing
  }

  onChunk(chunk: Buffer): void {
    if (!this.#capturing) return
    this.#bytes += chunk.length
    if (this.#bytes > this.rule.maxBodySize) {
      this.#verdict = 'too-large'
      this.#chunks = []
      this.#capturing = false
      this.#finish(undefined)
      return
    }
    this.#chunks.push(chunk)
  }

  /**
   * The strong ETag of a whole body known before the headers go out, for the
   * adapter to send on this miss; the stored entry gets the same one when
   * the same buffer is recorded, so it is computed once per stored copy.
   */
  strongEtag(body: Buffer): string {
    if (this.#etag?.body !== body) this.#etag = { body, tag: strongEtag(body) }
    return this.#etag.tag
  }

  onEnd(now = Date.now()): void {
    if (this.#finished) return
    if (!this.#capturing || this.#headersAt === 0) {
      this.#finish(undefined)
      return
    }
    this.#capturing = false
    const body =
      this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks)
    this.#chunks = []
    const headers = storableHeaders(this.#headers)
    const etag =
      headerString(this.#headers.etag) ?? (this.#status === 200 ? this.strongEtag(body) : undefined)
    const times = this.#originTimes
    const cachedAt = times?.cachedAt ?? Math.min(this.#headersAt, now)
    const staleAt = times?.staleAt ?? cachedAt + this.rule.ttlMs
    const key = this.#storeKey
    const entry: CacheEntry = {
      key,
      status: this.#status,
      headers,
      body,
      etag,
      cachedAt,
      staleAt,
      deleteAt: times === undefined ? cachedAt + this.rule.lifetimeMs : staleAt + times.staleMs,
      tags: this.fence.tags,
      tagVersions: this.fence.versions,
      path: this.path,
      patternSeq: this.fence.patternSeq,
      validatedEpoch: 0,
      size: entrySize(key, headers, body, this.fence.tags),
    }
    this.#finish(entry)
  }

  /**
   * The origin failed (a 5xx status, or a thrown error: `status` 0) and the
   * adapter sends `stale` in its place: the failure is not stored, waiters are
   * released (those holding a stale copy serve theirs), and the stale answer
   * is counted. Returns the copy to send.
   */
  serveStale(status: number): CacheEntry {
    const stale = this.stale
    if (stale === undefined) throw new Error('serveStale() on a fill without a stale copy')
    if (this.#headersAt === 0) {
      this.#status = status
      this.#headersAt = Date.now()
    }
    this.#aborted = true
    this.#capturing = false
    this.#chunks = []
    this.#finish(undefined)
    this.#sink.servedStale(this, stale)
    return stale
  }

  /** The response failed or the client went away before the end: nothing is stored. */
  onAbort(): void {
    if (!this.#finished) this.#aborted = true
    this.#capturing = false
    this.#chunks = []
    this.#finish(undefined)
  }

  #finish(entry: CacheEntry | undefined): void {
    if (this.#finished) return
    this.#finished = true
    this.originSeconds = (performance.now() - this.#startedAt) / 1000
    this.#sink.complete(this, entry, this.#verdict)
  }
}
