import { type CacheControl, parseCacheControl } from './cache-control'
import {
  directiveList,
  field,
  type HeaderRecord,
  type HeaderValue,
  MAX_DELTA_SECONDS,
  strictest,
  toCacheControl,
} from './freshness-fields'

// Whether a stored response may be sent without validation, RFC 9111 §4.2.4
// and §5.2.1: the request's directives only make reuse stricter, except
// `max-stale` when the response does not forbid serving it stale.

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
