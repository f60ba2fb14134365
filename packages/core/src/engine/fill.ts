import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { CacheEntry } from '../entry/entry'
import { strongEtag } from '../http/conditional'
import { headerString } from '../http/headers'
import type { ResponseBypassReason } from '../http/storable'
import type { FillFence } from '../invalidation/local-state'
import type { CompiledCacheRule } from '../rules/types'
import type { RemoteFence } from '../tiers/remote-tier'
import { capturedEntry, type FillInit, judgeResponse, notModifiedEntry } from './fill-response'
import type { Flight } from './flight'
import { type OriginTimes, validatorsOf } from './origin-times'

// What a fill makes of the origin's response is fill-response.ts' and
// origin-times.ts'; re-exported for this module's callers.
export { type FillInit, ownHeaders } from './fill-response'
export { hasOriginValidator, originEtag, originTimes } from './origin-times'

/** What the engine does with a finished fill. */
export interface FillSink {
  complete(
    fill: Fill,
    entry: CacheEntry | undefined,
    reason: ResponseBypassReason | undefined,
  ): void
  /**
   * The adapter served the fill's stale-if-error copy instead of the
   * origin's failure (`error`), or while the route runs on (`timeout`).
   */
  servedStale(fill: Fill, entry: CacheEntry, reason: 'error' | 'timeout'): void
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
  #detached = false
  /** The strong ETag an adapter had computed for the whole body (`strongEtag`), kept for the entry. */
  #etag: { readonly body: Buffer; readonly tag: string } | undefined
  readonly #startedAt = performance.now()
  /** When the request went to the origin (epoch ms): RFC 9111 §4.2.3's request_time. */
  readonly #requestTime = Date.now()
  /** `ttl: 'origin'`: the stored copy's times, from the response's own headers. */
  #originTimes: OriginTimes | undefined
  /** How long the origin took, from the fill's start to the end of its body (0 until then). */
  originSeconds = 0

  constructor(sink: FillSink, init: FillInit) {
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
    return validatorsOf(base, (body) => this.strongEtag(body))
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
    this.#status = 304
    this.#headersAt = now
    this.#capturing = false
    // The copy's own key (a variant's, when it is one); no index to write.
    this.#storeKey = base.key
    const { entry, verdict } = notModifiedEntry(
      this.rule,
      this,
      base,
      { headers, outer: this.#outer, requestTime: this.#requestTime, now },
      (body) => this.strongEtag(body),
    )
    this.#verdict = verdict
    this.#finish(verdict === undefined ? entry : undefined)
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
    const judged = judgeResponse(this.rule, this.key, status, headers, {
      outer: this.#outer,
      request: this.#request,
      requestTime: this.#requestTime,
      now,
    })
    this.#status = status
    this.#headers = judged.own
    this.#headersAt = now
    this.#verdict = judged.verdict
    this.#originTimes = judged.times
    this.#variantNames = judged.variantNames
    this.#storeKey = judged.storeKey
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
    const etag =
      headerString(this.#headers.etag) ?? (this.#status === 200 ? this.strongEtag(body) : undefined)
    this.#finish(
      capturedEntry(this.rule, this, {
        key: this.#storeKey,
        status: this.#status,
        headers: this.#headers,
        body,
        etag,
        times: this.#originTimes,
        headersAt: this.#headersAt,
        now,
      }),
    )
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
    this.#sink.servedStale(this, stale, 'error')
    return stale
  }

  /**
   * The cache answered the client while the route runs on (the rule's
   * `originTimeout`): with `stale`, that copy (counted). What the route
   * still sends goes into this fill only, and is stored as any miss is.
   */
  detach(stale: CacheEntry | undefined): void {
    this.#detached = true
    this.flight?.slowed()
    if (stale !== undefined) this.#sink.servedStale(this, stale, 'timeout')
  }

  /** Whether the client was answered before the route (`detach`). */
  get detached(): boolean {
    return this.#detached
  }

  /** Whether the fill has ended (stored, not stored, or abandoned). */
  get finished(): boolean {
    return this.#finished
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
