import type { CompiledCdn } from './options'
import { tagHeader } from './tag-budget'

/** What the CDN headers of one response are. */
export interface CdnHeaders {
  /** Flat name/value pairs (lower-case names): the tag header, the targeted lifetime. */
  readonly headers: readonly string[]
  /**
   * The tags could not fit and the CDN has no lifetime header of its own:
   * `Cache-Control` must keep the CDN from storing the response (`private`).
   */
  readonly privatize: boolean
}

/** The figures `stats().cdn` reports of the headers (this process, since it started). */
export interface CdnHeaderCounts {
  /** Responses whose tags were too many or too long: sent uncacheable at the CDN. */
  overBudget: number
  /** Tags sent folded (too long, or with bytes the CDN does not allow). */
  folded: number
}

export const cdnHeaderCounts = new WeakMap<CompiledCdn['config'], CdnHeaderCounts>()

/**
 * The CDN headers for a response carrying `tags` (resolved, as stored);
 * `count`: a response the origin just made (a miss), counted in the figures.
 */
export function cdnHeaders(cdn: CompiledCdn, tags: readonly string[], count = true): CdnHeaders {
  const { config } = cdn
  let counts = cdnHeaderCounts.get(config)
  if (counts === undefined) {
    counts = { overBudget: 0, folded: 0 }
    cdnHeaderCounts.set(config, counts)
  }
  // A copy replayed is not counted again.
  if (!count) counts = { overBudget: 0, folded: 0 }
  const headers: string[] = []
  // Every tag goes, the engine's own (route, tenant) folded like any that does
  // not fit; per-user rules have no CDN.
  const value = tags.length === 0 ? undefined : tagHeader(tags, config.profile)
  if (value !== undefined && !value.fits) {
    counts.overBudget++
    if (config.ttlHeader === undefined) return { headers, privatize: true }
    headers.push(config.ttlHeader, 'no-store')
    return { headers, privatize: false }
  }
  if (value !== undefined && value.value !== '') {
    counts.folded += value.folded
    headers.push(config.tagHeader, value.value)
  }
  if (cdn.ttlValue !== undefined && config.ttlHeader !== undefined)
    headers.push(config.ttlHeader, cdn.ttlValue)
  return { headers, privatize: false }
}

/** `Cache-Control` that keeps shared caches from storing the response; the browser's lifetime stays. */
export function privateCacheControl(value: string | undefined): string {
  const kept = (value ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => {
      const name = d.split('=')[0]?.trim().toLowerCase()
      return d !== '' && name !== 'public' && name !== 's-maxage' && name !== 'private'
    })
  return ['private', ...kept].join(', ')
}

const byEntry = new WeakMap<object, CdnHeaders>()

/** `cdnHeaders` of a stored entry, computed once per entry object (a memory hit reuses it). */
export function entryCdnHeaders(
  cdn: CompiledCdn,
  entry: { readonly tags: readonly string[] },
): CdnHeaders {
  let h = byEntry.get(entry)
  if (h === undefined) {
    h = cdnHeaders(cdn, entry.tags, false)
    byEntry.set(entry, h)
  }
  return h
}
