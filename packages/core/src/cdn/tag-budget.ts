import { createHash } from 'node:crypto'
import type { CdnProfile } from './providers'

/**
 * A response's tags as the CDN in front will read them, within its limits
 * (providers.ts): a tag that is too long, or holds a byte the CDN does not
 * allow (a space, the separator, Akamai's `:`), is folded into a stable short
 * form, `cachet-` and 24 hex digits of its SHA-256, that `invalidate()`
 * computes the same way. When the tags still do not fit (too many, the
 * header too long even with every long tag folded), the response is marked
 * uncacheable at the CDN: never a truncated list, which would leave some tag
 * unable to purge it.
 */

const FOLD_PREFIX = 'cachet-'
/** Length of a folded tag: longer tags are folded when the header is over budget. */
export const FOLDED_LENGTH = FOLD_PREFIX.length + 24

export function foldTag(tag: string): string {
  return FOLD_PREFIX + createHash('sha256').update(tag).digest('hex').slice(0, 24)
}

function fits(tag: string, p: CdnProfile): boolean {
  return tag !== '' && Buffer.byteLength(tag) <= p.tagBytes && !p.forbidden.test(tag)
}

/** The tag as the CDN knows it when the header has room for it as it is. */
export function cdnTag(tag: string, p: CdnProfile): string {
  return fits(tag, p) ? tag : foldTag(tag)
}

/**
 * Every form a tag may have at the CDN, for a purge: itself or its fold, and
 * both for a tag longer than a fold (folded on responses whose header was
 * otherwise too long). Purging a form no response carries costs nothing.
 */
export function purgeForms(tag: string, p: CdnProfile): string[] {
  if (!fits(tag, p)) return [foldTag(tag)]
  return tag.length > FOLDED_LENGTH ? [tag, foldTag(tag)] : [tag]
}

export type TagHeader =
  | { readonly fits: true; readonly value: string; readonly folded: number }
  | { readonly fits: false; readonly reason: 'count' | 'bytes' }

/** The tag header's value for `tags` (deduplicated as the CDN compares them), or why it cannot fit. */
export function tagHeader(tags: readonly string[], p: CdnProfile): TagHeader {
  const seen = new Set<string>()
  const forms: string[] = []
  let folded = 0
  for (const tag of tags) {
    const form = cdnTag(tag, p)
    const same = p.caseInsensitive ? form.toLowerCase() : form
    if (seen.has(same)) continue
    seen.add(same)
    if (form !== tag) folded++
    forms.push(form)
  }
  if (forms.length > p.maxTags) return { fits: false, reason: 'count' }
  let value = forms.join(p.separator)
  if (Buffer.byteLength(value) > p.headerBytes) {
    // Fold every tag longer than a fold, and try again.
    // A form longer than a fold is the tag itself (a fold is never longer).
    const shorter = forms.map((f) => (f.length > FOLDED_LENGTH ? foldTag(f) : f))
    folded += shorter.filter((f, i) => f !== forms[i]).length
    value = shorter.join(p.separator)
    if (Buffer.byteLength(value) > p.headerBytes) return { fits: false, reason: 'bytes' }
  }
  return { fits: true, value, folded }
}
