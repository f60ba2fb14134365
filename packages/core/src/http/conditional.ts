import etag from 'etag'
import { parseHttpDate } from './freshness'

/**
 * Validators and conditional requests, RFC 9110 §8.8.3 and §13.1.2.
 */

/**
 * A strong entity tag from the body bytes, by the `etag` package (as Express
 * and `koa-etag` make theirs): `"<length hex>-<sha1 base64, 27 chars>"`.
 * Computed once per stored copy (`Fill.strongEtag`), never on a hit.
 */
export function strongEtag(body: Buffer): string {
  return etag(body, { weak: false })
}

/** The request fields a stored response's answer depends on: its conditionals, and the codings it accepts. */
export interface Conditionals {
  readonly 'if-none-match'?: string | readonly string[]
  readonly 'if-modified-since'?: string
  readonly 'accept-encoding'?: string | readonly string[]
  /** A byte range of a stored 200 (replay.ts), and the validator it depends on. */
  readonly range?: string
  readonly 'if-range'?: string
}

/**
 * Whether a stored 200 answers `304 Not Modified` (RFC 9110 §13.2.2: the
 * preconditions a cache evaluates, in order). `If-None-Match` (weak
 * comparison) decides when present, and then `If-Modified-Since` is ignored
 * (§13.1.3); otherwise `If-Modified-Since`, a valid HTTP-date, is compared with
 * the stored `Last-Modified`, or, without one, its `Date` or the time it was
 * stored (RFC 9111 §4.3.2).
 */
export function notModified(
  stored: {
    readonly status: number
    readonly etag: string | undefined
    readonly headers: readonly string[]
    readonly cachedAt: number
  },
  request: Conditionals | undefined,
): boolean {
  if (request === undefined || stored.status !== 200) return false
  const inm = request['if-none-match']
  if (inm !== undefined) {
    return ifNoneMatchMatches(typeof inm === 'string' ? inm : inm.join(', '), stored.etag)
  }
  const ims = request['if-modified-since']
  if (ims === undefined) return false
  const since = parseHttpDate(ims)
  if (since === undefined) return false
  const modified =
    storedDate(stored.headers, 'last-modified') ??
    storedDate(stored.headers, 'date') ??
    Math.floor(stored.cachedAt / 1000) * 1000
  return modified <= since
}

function storedDate(headers: readonly string[], name: string): number | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) return parseHttpDate(headers[i + 1] as string)
  }
  return undefined
}

const ENTITY_TAG = /(?:W\/)?"[^"]*"/g

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

/**
 * If-None-Match uses the weak comparison (RFC 9110 §13.1.2): two tags match
 * when their opaque parts are equal, whatever their `W/` prefixes. `*` matches
 * any current representation.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string | undefined): boolean {
  if (header === undefined || etag === undefined) return false
  const trimmed = header.trim()
  if (trimmed === '*') return true
  const mine = opaque(etag)
  // Entity tags are quoted and may contain commas (RFC 9110 §8.8.3).
  for (const candidate of trimmed.match(ENTITY_TAG) ?? []) {
    if (opaque(candidate) === mine) return true
  }
  return false
}

/**
 * Whether a `304`'s entity tag names the stored copy it would update (RFC
 * 9111 §4.3.4 selects by validator): the same opaque tag. The weak comparison
 * is used, as for `If-None-Match` (the cache sent the tag there).
 */
export function sameEntityTag(tag: string, stored: string | undefined): boolean {
  return stored !== undefined && opaque(tag.trim()) === opaque(stored)
}
