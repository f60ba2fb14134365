import type { OutgoingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import { type CacheEntry, entrySize } from '../entry/entry'
import { parseCacheControl } from '../http/cache-control'
import { strongEtag } from '../http/conditional'
import { currentAge, freshnessLifetime } from '../http/freshness'
import { headerString, storableHeaders } from '../http/headers'
import { type ResponseBypassReason, responseBypassReason } from '../http/storable'
import type { FillFence } from '../invalidation/local-state'
import type { CompiledCacheRule } from '../rules/types'
import type { RemoteFence } from '../tiers/remote-tier'
import type { Flight } from './flight'
import { windowsOf } from './stale-windows'

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
  /** How long past `staleAt` it is kept: its longest stale window (see `windowsOf`). */
  staleMs: number
}

/**
 * `ttl: 'origin'`: the freshness the response's own headers give it (RFC 9111
 * §4.2.1, heuristics §4.2.2), at most the rule's `maxTtl`, less the age it
 * already had (§4.2.3: `Age`, and the time since its `Date`); `undefined`
 * when none is left. Kept past it for its stale windows (`windowsOf`).
 */
export function originTimes(
  rule: CompiledCacheRule,
  status: number,
  headers: OutgoingHttpHeaders,
  requestTime: number,
  responseTime: number,
): OriginTimes | undefined {
  const { lifetimeMs } = freshnessLifetime({ status, headers }, { shared: true, responseTime })
  const ageMs = currentAge({ headers, requestTime, responseTime, now: responseTime })
  const lifetime = Math.min(lifetimeMs, rule.ttlMs)
  if (lifetime - ageMs <= 0) return undefined
  const cachedAt = responseTime - ageMs
  const windows = windowsOf(parseCacheControl(headers['cache-control']), rule)
  return { cachedAt, staleAt: cachedAt + lifetime, staleMs: Math.max(windows.swrMs, windows.sieMs) }
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
  readonly key: string
  readonly path: string
  readonly fence: FillFence
  /** The flight other requests wait on, when this fill leads one. */
  readonly flight: Flight | undefined
  /** The shared tier's fence, when the fill may be stored there. */
  readonly remote: RemoteFence | undefined
  readonly #stale: CacheEntry | undefined
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
  #finished = false
  #aborted = false
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
      revalidation?: boolean
    },
  ) {
    this.#sink = sink
    this.rule = init.rule
    this.key = init.key
    this.path = init.path
    this.fence = init.fence
    this.flight = init.flight
    this.remote = init.remote
    this.#stale = init.stale
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
    return this.#stale !== undefined
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
    }
    this.#capturing = this.#verdict === undefined
    if (this.#verdict !== undefined) this.#finish(undefined)
    return this.#verdict
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
      headerString(this.#headers.etag) ?? (this.#status === 200 ? strongEtag(body) : undefined)
    const times = this.#originTimes
    const cachedAt = times?.cachedAt ?? Math.min(this.#headersAt, now)
    const staleAt = times?.staleAt ?? cachedAt + this.rule.ttlMs
    const entry: CacheEntry = {
      key: this.key,
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
      size: entrySize(this.key, headers, body, this.fence.tags),
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
