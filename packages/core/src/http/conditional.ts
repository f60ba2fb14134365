import { createHash } from 'node:crypto'

/**
 * Validators and conditional requests, RFC 9110 §8.8.3 and §13.1.2.
 */

/** A strong entity tag from the body bytes: `"<length hex>-<sha1 base64, 27 chars>"`. */
export function strongEtag(body: Buffer): string {
  const hash = createHash('sha1').update(body).digest('base64').slice(0, 27)
  return `"${body.length.toString(16)}-${hash}"`
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
