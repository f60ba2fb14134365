import type { EncodedVariants } from '../http/encoding'

/** A stored response, as every tier keeps it. */
export interface StoredResponse {
  readonly status: number
  /** End-to-end headers, flat `[name, value, ...]`, lower-case names, without `Content-Length`. */
  readonly headers: readonly string[]
  readonly body: Buffer
  /** The origin's ETag, or a strong one computed from the body for 200 responses. */
  readonly etag: string | undefined
  readonly cachedAt: number
  /** Fresh until `staleAt`; never served at or after `deleteAt`. */
  readonly staleAt: number
  readonly deleteAt: number
  /** Explicit and implicit tags. */
  readonly tags: readonly string[]
  /** The request path, for pattern invalidation. */
  readonly path: string
  /** A shared tier found one of its tags expired since the fill (`staleAt` moved back). */
  readonly expired?: boolean
}

/**
 * A memory-tier entry: the stored response plus this process's bookkeeping.
 * Everything a hit needs is precomputed at store time.
 */
export interface CacheEntry extends StoredResponse {
  readonly key: string
  /**
   * Fresh until then: the stored copy's, or earlier once one of its tags
   * was expired (`invalidate({ mode: 'expire' })`, see `isValid`).
   */
  staleAt: number
  /** The versions the tags had (in this process) when the fill started. */
  readonly tagVersions: readonly number[]
  /** The tags' expire versions as of the fill's start, or of the last time the entry was found expired. */
  expireVersions: readonly number[]
  /** One of its tags was expired since its fill started: stale, whatever its times say. */
  expired?: boolean
  /** Every pattern invalidation up to this sequence number was checked against `path`. */
  patternSeq: number
  /** The invalidation epoch at which the entry was last found valid (skips re-checks). */
  validatedEpoch: number
  /** Bytes counted against the memory budget: key, headers, body, tags and a fixed overhead (and `encoded`). */
  readonly size: number
  /** `compress: true` rules: the br and gzip bodies, made when the copy entered the memory tier. */
  encoded?: EncodedVariants
}

/** Bookkeeping bytes of an entry beyond its strings and body (object, arrays, map slot). */
export const ENTRY_OVERHEAD_BYTES = 256

export function entrySize(
  key: string,
  headers: readonly string[],
  body: Buffer,
  tags: readonly string[],
): number {
  let size = ENTRY_OVERHEAD_BYTES + Buffer.byteLength(key) + body.length
  for (const h of headers) size += Buffer.byteLength(h) + 16
  for (const t of tags) size += Buffer.byteLength(t) + 24
  return size
}
