import { type CacheControl, cacheControlDirectives, parseCacheControl } from './cache-control'

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

/** One header field value as Node gives it (`OutgoingHttpHeaders`, `IncomingHttpHeaders`). */
export type HeaderValue = string | readonly string[] | number | undefined

/** A header record; names are matched case-insensitively. */
export type HeaderRecord = Readonly<Record<string, HeaderValue>>

/** RFC 9111 §1.2.2: a delta-seconds above 2^31 is read as 2^31. */
export const MAX_DELTA_SECONDS = 2 ** 31

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

/** Why a stored response may not be sent without validation. */
export type ServeRefusal =
  /** RFC 9111 §5.2.1.4 (or `Pragma: no-cache`, §5.4). */
  | 'request-no-cache'
  /** RFC 9111 §5.2.2.4: unqualified `no-cache` in the response. */
  | 'response-no-cache'
  /** RFC 9111 §5.2.1.1: older than the request's max-age. */
  | 'request-max-age'
  /** RFC 9111 §5.2.1.3: not fresh for the request's min-fresh. */
  | 'request-min-fresh'
  /** RFC 9111 §4.2.4: stale, and the request has no max-stale. */
  | 'stale'
  /** RFC 9111 §4.2.4: stale, and the response forbids serving it stale. */
  | 'must-revalidate'
  /** RFC 9111 §5.2.1.2: stale by more than the request's max-stale. */
  | 'max-stale'

export interface ServeVerdict {
  /** RFC 9111 §4.2: lifetime > age. */
  fresh: boolean
  /** The stored response may be sent without contacting the origin. */
  servable: boolean
  /** RFC 9111 §5.2.1.7: if not servable, the caller answers 504 instead of forwarding. */
  onlyIfCached: boolean
  reason?: ServeRefusal
}

export interface StoredFreshness {
  lifetimeMs: number
  ageMs: number
  /** The stored response's Cache-Control, parsed or as the raw field. */
  responseCacheControl: CacheControl | HeaderValue
  /** Default true: `proxy-revalidate` and `s-maxage` apply (RFC 9111 §5.2.2.8, §5.2.2.10). */
  shared?: boolean
}

/** Whether a request's directives let a stored response be reused, RFC 9111 §4.2.4 and §5.2.1. */
export function requestAllows(requestHeaders: HeaderRecord, stored: StoredFreshness): ServeVerdict {
  const request = directiveList(field(requestHeaders, 'cache-control'))
  const onlyIfCached = request.some(([name]) => name === 'only-if-cached')
  // Unusable inputs read as a stale response: lifetime 0, age unbounded.
  const lifetime = Number.isFinite(stored.lifetimeMs) ? Math.max(0, stored.lifetimeMs) : 0
  const age =
    Number.isFinite(stored.ageMs) && stored.ageMs >= 0 ? stored.ageMs : Number.POSITIVE_INFINITY
  const fresh = lifetime > age
  const refuse = (reason: ServeRefusal): ServeVerdict => ({
    fresh,
    servable: false,
    onlyIfCached,
    reason,
  })

  // §5.4: Pragma: no-cache counts only when the request has no Cache-Control directive.
  const pragma = field(requestHeaders, 'pragma')
  if (
    request.some(([name]) => name === 'no-cache') ||
    (request.length === 0 && pragma !== undefined && parseCacheControl(pragma).has('no-cache'))
  ) {
    return refuse('request-no-cache')
  }
  const response = toCacheControl(stored.responseCacheControl)
  const noCache = response.get('no-cache')
  // §5.2.2.4: `no-cache="field"` only keeps the named fields from being reused.
  if (noCache === true) return refuse('response-no-cache')

  // A malformed value is read as its strictest form: max-age 0, min-fresh 2^31.
  const maxAge = strictest(request, 'max-age', 0, Math.min)
  if (maxAge !== undefined && age > maxAge * 1000) return refuse('request-max-age')
  const minFresh = strictest(request, 'min-fresh', MAX_DELTA_SECONDS, Math.max)
  if (minFresh !== undefined && lifetime - age < minFresh * 1000) return refuse('request-min-fresh')
  if (fresh) return { fresh, servable: true, onlyIfCached }

  // §5.2.1.2: max-stale without a value accepts any staleness; a malformed value, none.
  const maxStale = strictest(request, 'max-stale', 0, Math.min, Number.POSITIVE_INFINITY)
  if (maxStale === undefined) return refuse('stale')
  // §4.2.4: never stale against must-revalidate (§5.2.2.2), no-cache in any form
  // (§5.2.2.4), or, in a shared cache, proxy-revalidate (§5.2.2.8) and s-maxage,
  // which implies it (§5.2.2.10).
  const shared = stored.shared ?? true
  if (
    response.has('must-revalidate') ||
    noCache !== undefined ||
    (shared && (response.has('proxy-revalidate') || response.has('s-maxage')))
  ) {
    return refuse('must-revalidate')
  }
  if (age - lifetime > maxStale * 1000) return refuse('max-stale')
  return { fresh, servable: true, onlyIfCached }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const MONTH = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)'
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
const DAY_NAME = '(?:mon|tue|wed|thu|fri|sat|sun)'
const DAY_NAME_L = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)'
// RFC 9110 §5.6.7, matched case-insensitively as RFC 9111 §4.2 asks of caches.
const IMF_FIXDATE = new RegExp(`^${DAY_NAME}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, 'i')
const RFC850_DATE = new RegExp(`^${DAY_NAME_L}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, 'i')
const ASCTIME_DATE = new RegExp(`^${DAY_NAME} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`, 'i')

/** An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime) as ms epoch, or undefined. */
export function parseHttpDate(value: string, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '')
  let m = IMF_FIXDATE.exec(text)
  if (m) return utc(Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!)
  m = ASCTIME_DATE.exec(text)
  if (m) return utc(Number(m[6]), m[1]!, m[2]!, m[3]!, m[4]!, m[5]!)
  m = RFC850_DATE.exec(text)
  if (!m) return undefined
  // §5.6.7: a two-digit year that would be more than 50 years ahead is the
  // latest year in the past with those digits (a window sliding with `now`).
  const limit = new Date(Number.isFinite(now) ? now : Date.now())
  const century = limit.getUTCFullYear() - (limit.getUTCFullYear() % 100)
  limit.setUTCFullYear(limit.getUTCFullYear() + 50)
  for (const year of [century + 100, century, century - 100]) {
    const parsed = utc(year + Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!)
    if (parsed !== undefined && parsed <= limit.getTime()) return parsed
  }
  return undefined
}

function utc(
  year: number,
  monthName: string,
  day: string,
  hour: string,
  minute: string,
  second: string,
): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase())
  const [d, h, min, s] = [Number(day), Number(hour), Number(minute), Number(second)]
  if (d < 1 || h > 23 || min > 59 || s > 60) return undefined
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999. A leap
  // second (60) is read as 59: §4.2 of RFC 9111 rounds a date down, never up.
  const date = new Date(0)
  date.setUTCFullYear(year, month, d)
  date.setUTCHours(h, min, Math.min(s, 59), 0)
  // An overflowing day (31 Feb) would roll into the next month.
  if (date.getUTCMonth() !== month || date.getUTCDate() !== d) return undefined
  return date.getTime()
}

/** A field by case-insensitive name; an empty list is no field. */
function field(headers: HeaderRecord, name: string): string | readonly string[] | undefined {
  let value = headers[name]
  if (value === undefined) {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === name) {
        value = headers[key]
        if (value !== undefined) break
      }
    }
  }
  if (value === undefined) return undefined
  if (typeof value === 'number') return String(value)
  if (typeof value !== 'string' && value.length === 0) return undefined
  return value
}

/**
 * A date field that must occur once (`Date`, `Expires`, `Last-Modified`):
 * undefined when absent, invalid, or given several times with different values
 * (RFC 9111 §4.2.1: a duplicated value may be treated as invalid).
 */
function singletonDate(
  value: string | readonly string[] | undefined,
  now: number,
): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') return parseHttpDate(value, now)
  let out: number | undefined
  for (const line of value) {
    const parsed = parseHttpDate(line, now)
    if (parsed === undefined || (out !== undefined && parsed !== out)) return undefined
    out = parsed
  }
  return out
}

/**
 * RFC 9111 §1.2.2: delta-seconds is 1*DIGIT, capped at 2^31; anything else
 * (sign, fraction, empty, no value) is undefined. The quoted form was unquoted
 * by the parser; §5.2 asks recipients to accept it.
 */
function deltaSeconds(value: string | true): number | undefined {
  if (value === true) return undefined
  const text = value.trim()
  if (!/^\d+$/.test(text)) return undefined
  return Math.min(Number(text), MAX_DELTA_SECONDS)
}

/**
 * An expiration directive of the response: undefined when absent; 0 (stale)
 * when invalid or repeated with different values (RFC 9111 §4.2.1).
 */
function explicitDelta(directives: Directive[], name: string): number | undefined {
  let out: number | undefined
  for (const [n, value] of directives) {
    if (n !== name) continue
    const seconds = deltaSeconds(value)
    if (seconds === undefined || (out !== undefined && seconds !== out)) return 0
    out = seconds
  }
  return out
}

/**
 * A request directive's value, the strictest of its occurrences by `pick`;
 * `malformed` stands for an invalid value, `bare` for the directive without one.
 */
function strictest(
  directives: Directive[],
  name: string,
  malformed: number,
  pick: (a: number, b: number) => number,
  bare = malformed,
): number | undefined {
  let out: number | undefined
  for (const [n, value] of directives) {
    if (n !== name) continue
    const seconds = value === true ? bare : (deltaSeconds(value) ?? malformed)
    out = out === undefined ? seconds : pick(out, seconds)
  }
  return out
}

type Directive = [name: string, value: string | true]

/** Every Cache-Control directive in order, repeats included (the parser keeps only the first). */
function directiveList(value: string | readonly string[] | undefined): Directive[] {
  return cacheControlDirectives(value)
}

function toCacheControl(value: CacheControl | HeaderValue): CacheControl {
  return isCacheControl(value) ? value : parseCacheControl(value)
}

function isCacheControl(value: CacheControl | HeaderValue): value is CacheControl {
  return value instanceof Map
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
