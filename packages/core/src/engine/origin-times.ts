import type { OutgoingHttpHeaders } from 'node:http'
import type { CacheEntry } from '../entry/entry'
import { parseCacheControl, unqualifiedNoCache } from '../http/cache-control'
import { strongEtag } from '../http/conditional'
import { currentAge, freshnessLifetime } from '../http/freshness'
import type { CompiledCacheRule } from '../rules/types'
import { windowsOf } from './stale-windows'

// Origin-driven rules (`ttl: 'origin'`): a stored copy's times from the
// response's own headers, and the validators a conditional request carries.

/** A stored copy's times in origin-driven mode (epoch ms). */
export interface OriginTimes {
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

/** The conditionals revalidating `base`: its entity tag and `Last-Modified`, if it has either. */
export function validatorsOf(
  base: CacheEntry,
  computed: (body: Buffer) => string,
): { 'if-none-match'?: string; 'if-modified-since'?: string } | undefined {
  const out: { 'if-none-match'?: string; 'if-modified-since'?: string } = {}
  const etag = originEtag(base, computed)
  if (etag !== undefined) out['if-none-match'] = etag
  for (let i = 0; i < base.headers.length; i += 2)
    if (base.headers[i] === 'last-modified') out['if-modified-since'] = base.headers[i + 1]
  return out['if-none-match'] === undefined && out['if-modified-since'] === undefined
    ? undefined
    : out
}
