import {
  deltaSeconds,
  directiveList,
  explicitDelta,
  field,
  type HeaderRecord,
  MAX_DELTA_SECONDS,
  singletonDate,
} from './freshness-fields'

/**
 * Freshness arithmetic of a shared cache, RFC 9111 §4.2: how long a response
 * stays fresh, how old a stored one is, and whether a request's directives
 * let a stored response be sent without validation. Pure functions, times in
 * milliseconds since the epoch.
 *
 * Every doubtful input is read the conservative way: a malformed, negative or
 * conflicting expiration makes the response stale (lifetime 0, never
 * "forever"), and a malformed request directive is read as its strictest
 * form. Request directives only make reuse stricter, with one exception the
 * RFC allows: `max-stale`, and only when the response does not forbid serving
 * it stale (`must-revalidate`, `no-cache`, and in a shared cache
 * `proxy-revalidate` or `s-maxage`).
 */

export type { HeaderRecord, HeaderValue } from './freshness-fields'
export { MAX_DELTA_SECONDS } from './freshness-fields'
export { parseHttpDate } from './http-date'
export type { ServeRefusal, ServeVerdict, StoredFreshness } from './serve-verdict'
export { requestAllows } from './serve-verdict'

const MAX_MS = MAX_DELTA_SECONDS * 1000

/** RFC 9110 §15.1: the status codes that are heuristically cacheable. */
const HEURISTICALLY_CACHEABLE = new Set([
  200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
])

export type FreshnessSource = 's-maxage' | 'max-age' | 'expires' | 'heuristic' | 'none'

export interface Freshness {
  /** Always a finite integer, 0 ≤ lifetimeMs ≤ 2^31 s. */
  lifetimeMs: number
  source: FreshnessSource
}

export interface FreshnessOptions {
  /** A shared cache honours `s-maxage` (RFC 9111 §5.2.2.10). Default true. */
  shared?: boolean
  /** When the response was received (ms epoch), standing in for a missing `Date`. Default now. */
  responseTime?: number
  /** Fraction of the time since `Last-Modified` used as a heuristic lifetime. Default 0.1. */
  heuristicFraction?: number
  /** Upper bound of a heuristic lifetime. Default 24 h. */
  heuristicMaxMs?: number
}

/** The freshness lifetime of a response, RFC 9111 §4.2.1 (explicit) and §4.2.2 (heuristic). */
export function freshnessLifetime(
  response: { status: number; headers: HeaderRecord },
  opts: FreshnessOptions = {},
): Freshness {
  const { headers } = response
  const directives = directiveList(field(headers, 'cache-control'))
  // §4.2.1: s-maxage (shared caches only), then max-age, then Expires; §5.3: when
  // either directive is present, Expires is ignored. A present but invalid or
  // conflicting directive makes the response stale; it never falls through.
  if (opts.shared ?? true) {
    const sMaxAge = explicitDelta(directives, 's-maxage')
    if (sMaxAge !== undefined) return { lifetimeMs: sMaxAge * 1000, source: 's-maxage' }
  }
  const maxAge = explicitDelta(directives, 'max-age')
  if (maxAge !== undefined) return { lifetimeMs: maxAge * 1000, source: 'max-age' }

  const responseTime = finiteOr(opts.responseTime, Date.now())
  // §4.2.1: Date absent (or invalid) means the time the response was received.
  const date = singletonDate(field(headers, 'date'), responseTime) ?? responseTime
  const expiresField = field(headers, 'expires')
  if (expiresField !== undefined) {
    // §5.3: an invalid date, `0` in particular, means already expired.
    const expires = singletonDate(expiresField, responseTime)
    return { lifetimeMs: expires === undefined ? 0 : clampMs(expires - date), source: 'expires' }
  }

  // §4.2.2: heuristics only without explicit expiration, for heuristically cacheable
  // statuses or responses marked `public`, as a fraction of the time since Last-Modified.
  const isPublic = directives.some(([name]) => name === 'public')
  if (!HEURISTICALLY_CACHEABLE.has(response.status) && !isPublic) return NONE
  const lastModified = singletonDate(field(headers, 'last-modified'), responseTime)
  if (lastModified === undefined) return NONE
  const fraction = nonNegative(opts.heuristicFraction, 0.1)
  const cap = nonNegative(opts.heuristicMaxMs, 24 * 60 * 60 * 1000)
  return {
    lifetimeMs: clampMs(Math.min(Math.max(0, date - lastModified) * fraction, cap)),
    source: 'heuristic',
  }
}

const NONE: Freshness = { lifetimeMs: 0, source: 'none' }

export interface AgeInput {
  /** The stored response's headers (`Age`, `Date`). */
  headers: HeaderRecord
  /** When the request that fetched the response was sent (ms epoch). */
  requestTime: number
  /** When the response was received (ms epoch). */
  responseTime: number
  /** Default Date.now(). */
  now?: number
}

/** The current age of a stored response in ms, RFC 9111 §4.2.3; finite, ≥ 0, at most 2^31 s. */
export function currentAge({
  headers,
  requestTime,
  responseTime,
  now = Date.now(),
}: AgeInput): number {
  // Nonsense clocks cannot prove the response young: read it as as old as can be.
  if (!Number.isFinite(requestTime) || !Number.isFinite(responseTime) || !Number.isFinite(now)) {
    return MAX_MS
  }
  const date = singletonDate(field(headers, 'date'), responseTime)
  const apparentAge = date === undefined ? 0 : Math.max(0, responseTime - date)
  // Negative intervals (a clock stepped back) count as 0, which can only add age.
  const responseDelay = Math.max(0, responseTime - requestTime)
  const correctedAgeValue = ageValue(headers) * 1000 + responseDelay
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue)
  const residentTime = Math.max(0, now - responseTime)
  return Math.min(MAX_MS, Math.ceil(correctedInitialAge + residentTime))
}

/**
 * RFC 9111 §5.1: Age is delta-seconds; of a list only the first member counts,
 * and an invalid value is ignored (0). Above 2^31 it is 2^31 (§1.2.2).
 */
function ageValue(headers: HeaderRecord): number {
  const value = field(headers, 'age')
  if (value === undefined) return 0
  const first = (typeof value === 'string' ? value : value[0]!).split(',')[0]!
  return deltaSeconds(first) ?? 0
}

function clampMs(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_MS, Math.max(0, Math.floor(ms))) : 0
}

function finiteOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) ? value : fallback
}

function nonNegative(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  return value >= 0 ? value : 0
}
