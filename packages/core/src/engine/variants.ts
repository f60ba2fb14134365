import type { IncomingHttpHeaders, OutgoingHttpHeader } from 'node:http'
import type { CacheEntry, StoredResponse } from '../entry/entry'
import { entrySize } from '../entry/entry'
import { headerString } from '../http/headers'
import { normalizeHeaderValue } from '../rules/key'
import type { CompiledCacheRule } from '../rules/types'
import { primaryKeyOf, VARIANT_SEPARATOR } from '../tiers/variant-key'

// The separator and a key's URI part live below the engine: the tiers place variants by them.
export { primaryKeyOf, VARIANT_SEPARATOR }

/**
 * Origin-driven rules store the variants a response's `Vary` names (RFC 9111
 * §4.1) apart: each under its *variant key*, the URI's key followed by the
 * request's values of those headers; and at the URI's key itself, a
 * *variant index*: a small entry (status 0, no body) whose only header,
 * `vary`, lists the names. A lookup that finds the index reads the variant
 * its own request selects. Both are entries like any other, in every tier:
 * fenced, tagged, invalidated and expired the same way.
 */

/** The status of a variant index entry (never a response's). */
export const VARIANT_INDEX_STATUS = 0

export function isVariantIndex(entry: StoredResponse): boolean {
  return entry.status === VARIANT_INDEX_STATUS
}

/**
 * The request headers a response's `Vary` selects by, beyond those the rule
 * keys already: lower-case, sorted, once each; `'*'` when it says `*` (never
 * stored); empty when there are none.
 */
export function varyNames(
  rule: CompiledCacheRule,
  vary: OutgoingHttpHeader | undefined,
): string[] | '*' {
  const text = headerString(vary)
  if (text === undefined || text.trim() === '') return []
  const names = new Set<string>()
  for (const raw of text.split(',')) {
    const name = raw.trim().toLowerCase()
    if (name === '') continue
    if (name === '*') return '*'
    if (!rule.key.headers.includes(name)) names.add(name)
  }
  return [...names].sort()
}

/** The names a variant index lists. */
export function indexNames(index: StoredResponse): string[] {
  const value = index.headers[1]
  return value === undefined || value === '' ? [] : value.split(',')
}

/**
 * The key of the variant a request selects: the URI's key, the separator,
 * then each name and the request's value of it, normalised as keyed headers
 * are (an absent header is its own value). Self-delimiting, as keys are.
 */
export function variantKey(
  primary: string,
  names: readonly string[],
  headers: IncomingHttpHeaders,
): string {
  let key = `${primary}${VARIANT_SEPARATOR}#${names.length};`
  for (const name of names) {
    const value = headers[name]
    key += `${name.length}:${name}`
    if (value === undefined) key += '!'
    else {
      const v = normalizeHeaderValue(value)
      key += `${v.length}:${v}`
    }
  }
  return key
}

/** The index to store at `primary` beside `variant` (same fence, tags and path). */
export function variantIndex(
  primary: string,
  names: readonly string[],
  variant: CacheEntry,
  keepMs: number,
): CacheEntry {
  const headers = ['vary', names.join(',')]
  const body = Buffer.alloc(0)
  return {
    key: primary,
    status: VARIANT_INDEX_STATUS,
    headers,
    body,
    etag: undefined,
    cachedAt: variant.cachedAt,
    // Never fresh itself; kept as long as a variant of it may be.
    staleAt: variant.cachedAt,
    deleteAt: Math.max(variant.deleteAt, Date.now() + keepMs),
    tags: variant.tags,
    tagVersions: variant.tagVersions,
    expireVersions: variant.expireVersions,
    path: variant.path,
    patternSeq: variant.patternSeq,
    validatedEpoch: 0,
    size: entrySize(primary, headers, body, variant.tags),
  }
}
