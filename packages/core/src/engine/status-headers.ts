import type { ResponseBypassReason } from '../http/storable'
import type { StaleReason } from '../observe/events'
import type { RequestBypassReason } from '../rules/request-filter'

/** Why a matched request or response did not use the cache. */
export type BypassReason = RequestBypassReason | ResponseBypassReason

/** The `X-Cache` value of a response the cache touched. */
export type CacheOutcome = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

const CACHE_NAME = 'cachet'

/**
 * RFC 9211 `Cache-Status` values. They name the outcome and, for a bypass,
 * the reason; never the key.
 */
export function cacheStatusHit(ttlSeconds: number): string {
  return `${CACHE_NAME}; hit; ttl=${ttlSeconds}`
}

/**
 * A copy served past its ttl (a negative `ttl`, RFC 9211 §2.5). When this
 * request's own origin call failed, it was forwarded with a stale copy at
 * hand: `fwd=stale` and the origin's status when it answered one (not when it
 * threw); otherwise (served while a refresh runs, or after the coalesced
 * origin call it waited on failed) it is a `hit`.
 */
const STALE_DETAIL: Record<StaleReason, string> = {
  revalidate: 'stale-while-revalidate',
  error: 'stale-if-error',
  timeout: 'origin-timeout',
}

export function cacheStatusStale(
  ttlSeconds: number,
  reason: StaleReason,
  forwarded: boolean,
  originStatus: number | undefined,
): string {
  const detail = STALE_DETAIL[reason]
  const served = !forwarded
    ? 'hit'
    : originStatus === undefined
      ? 'fwd=stale'
      : `fwd=stale; fwd-status=${originStatus}`
  return `${CACHE_NAME}; ${served}; ttl=${ttlSeconds}; detail=${detail}`
}

/**
 * `ttl: 'origin'`: the stored copy was past its freshness, the cache asked
 * the origin whether it was still current, and the origin said so (`304`):
 * the copy is sent, with its renewed freshness (0 or negative for a copy that
 * must be revalidated on every use). With `mismatch`, the 304 named another
 * representation: the copy went out once more, as it was.
 */
export function cacheStatusRevalidated(ttlSeconds: number, mismatch = false): string {
  const status = `${CACHE_NAME}; fwd=stale; fwd-status=304; ttl=${ttlSeconds}`
  return mismatch ? `${status}; detail=validator-mismatch` : status
}

export const CACHE_STATUS_MISS = `${CACHE_NAME}; fwd=miss`

/** A request the cache did not handle (`fwd=bypass`), or a response it would not store (`fwd=miss`). */
export function cacheStatusBypass(reason: BypassReason, requestSide: boolean): string {
  return `${CACHE_NAME}; fwd=${requestSide ? 'bypass' : 'miss'}; detail=${reason}`
}

/**
 * `X-Cache` and `Cache-Status` for a miss whose response was (or was not)
 * storable. `stale`: the cache held a copy past its freshness and went to the
 * origin anyway (RFC 9211 §2.2 `fwd=stale`), rather than holding nothing.
 */
export function fillOutcome(
  veto: BypassReason | undefined,
  stale = false,
): readonly [CacheOutcome, string] {
  const fwd = stale ? 'fwd=stale' : 'fwd=miss'
  return veto === undefined
    ? ['MISS', `${CACHE_NAME}; ${fwd}`]
    : ['BYPASS', `${CACHE_NAME}; ${fwd}; detail=${veto}`]
}

/** `X-Cache` and `Cache-Status` for a request the cache did not handle. */
export function bypassOutcome(reason: BypassReason): readonly [CacheOutcome, string] {
  return ['BYPASS', cacheStatusBypass(reason, true)]
}

/**
 * The answer to `Cache-Control: only-if-cached` when no copy may be sent
 * (RFC 9111 §5.2.1.7): 504, from the cache itself; the request went nowhere,
 * so `Cache-Status` has no `fwd`.
 */
/** The headers of a JSON answer the cache makes itself, never to be stored by anyone. */
function cacheMade(cacheStatus: string) {
  return [
    'content-type',
    'application/json',
    'cache-control',
    'no-store',
    'x-cache',
    'MISS',
    'cache-status',
    cacheStatus,
  ] as const
}

export const ONLY_IF_CACHED_UNAVAILABLE = {
  status: 504,
  headers: cacheMade(`${CACHE_NAME}; detail=only-if-cached`),
  body: JSON.stringify({ error: 'not cached (only-if-cached)' }),
} as const

/**
 * The answer past a rule's `originTimeout.hard` when no stale copy may stand
 * in and the rule says `hardStatus` (503 or 504): the route was asked and
 * runs on (its response is stored when it ends), hence `fwd=miss`.
 */
export const ORIGIN_TIMED_OUT = {
  headers: cacheMade(`${CACHE_NAME}; fwd=miss; detail=origin-timeout`),
  body: JSON.stringify({ error: 'the origin did not answer in time' }),
} as const

/**
 * The answer to a 2xx write whose invalidation failed: the write happened but
 * the old version may still be served, so the client is not told "OK".
 */
export const WRITE_INVALIDATION_FAILED = {
  status: 503,
  body: JSON.stringify({
    error: 'cache invalidation failed; the write was applied but may not be visible yet',
  }),
} as const
