import type { CacheEntry } from '../../entry/entry'
import { hit, servedStale } from '../../observe/outcomes'
import type { CompiledCacheRule, RuleMatch } from '../../rules/types'
import type { Exchange } from '../exchange'
import { Flight } from '../flight'
import { slowLimitMs } from '../slow-origin'
import { storedWindows } from '../stale-windows'
import { primaryKeyOf, variantKey, varyNames } from '../variants'
import { toOrigin } from './fill-start'
import { tagsFor } from './match'
import { staleRevalidate } from './revalidate'
import type { EngineState, Lookup } from './state'

// The coalesce stage: concurrent misses of a key wait on the one request that
// leads its flight to the origin instead of calling it themselves (at most
// `maxWaiters` of them, for at most `maxWait`).

/** The flight under way for `key`, unless its leader is taken for lost (then dropped). */
export function liveFlight(s: EngineState, key: string, now: number): Flight | undefined {
  const flight = s.flights.get(key)
  if (flight !== undefined && now - flight.startedAt > s.abandonFlightMs) {
    // A leader that never finished (an adapter that lost track of its fill):
    // nobody may wait on it any more. A legitimately slow origin is given
    // much longer than one wait, so that it keeps its followers.
    s.flights.delete(key)
    flight.settle(undefined)
    return undefined
  }
  return flight
}

/** A new flight for `key`, which the request that starts it leads. */
export function leadFlight(s: EngineState, key: string): Flight {
  const lead = new Flight()
  s.flights.set(key, lead)
  return lead
}

/**
 * Whether `entry`, which a flight brought, is the one a request for `key`
 * selects: the same key, or, when the request knew only its URI's key, the
 * variant its own headers select by the entry's `Vary`.
 */
function selects(rule: CompiledCacheRule, entry: CacheEntry, key: string, ex: Exchange): boolean {
  if (entry.key === key) return true
  if (!rule.origin || primaryKeyOf(entry.key) !== key) return false
  const values: string[] = []
  for (let i = 0; i < entry.headers.length; i += 2)
    if (entry.headers[i] === 'vary') values.push(entry.headers[i + 1] as string)
  const names = varyNames(rule, values)
  return names !== '*' && variantKey(key, names, ex.headers) === entry.key
}

/**
 * Waits on `flight`, then answers with what it brought; `again` looks the
 * request up anew (another variant of its URI came). When nothing usable
 * came, the request goes to the origin itself, without leading a flight.
 */
export async function wait(
  s: EngineState,
  flight: Flight,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
  key: string,
  fallback: CacheEntry | undefined,
  again: () => Lookup | Promise<Lookup>,
): Promise<Lookup> {
  const asked = Date.now()
  const slowMs = slowLimitMs(m.rule, fallback !== undefined)
  // A leader already answered for (originTimeout): no wait at all.
  const entry =
    slowMs !== undefined && flight.slow
      ? undefined
      : await flight.wait(
          slowMs === undefined ? s.maxWaitMs : Math.min(slowMs, s.maxWaitMs),
          slowMs !== undefined,
        )
  const now = Date.now()
  const slow = slowMs !== undefined && !flight.settled && (flight.slow || slowMs <= s.maxWaitMs)
  if (entry !== undefined && s.local.isValid(entry)) {
    if (!selects(m.rule, entry, key, ex)) {
      // Another variant of the URI came (its responses vary, which was not
      // known yet): look up again, now by the index, and wait on (or lead)
      // the flight of this request's own variant.
      if (primaryKeyOf(entry.key) === key) return again()
    } else {
      // Fresh, or (a copy to revalidate on every use) generated or
      // validated by the origin after this request came: as good as asking.
      // (Not a copy one of whose tags was expired since its fill started.)
      if (now < entry.staleAt || (entry.cachedAt >= asked && entry.expired !== true))
        return hit(s, m.rule, entry, 'memory')
      if (now - entry.staleAt < storedWindows(m.rule, entry.headers).swrMs)
        return staleRevalidate(s, m.rule, key, entry, now)
    }
  }
  const reason = flight.stale ?? (slow ? 'timeout' : undefined)
  if (reason !== undefined && fallback !== undefined && s.local.isValid(fallback)) {
    // The origin call this request waited on failed, or is slower than the
    // rule allows: the stale-if-error copy stands in, without another origin call.
    servedStale(s, m.rule, reason, fallback, now)
    return { type: 'stale', entry: fallback, reason, refresh: undefined }
  }
  const hardStatus = m.rule.originTimeout?.hardStatus
  if (slow && fallback === undefined && hardStatus !== undefined)
    return { type: 'timeout', status: hardStatus }
  // Nothing storable came (or the wait ran out): this request goes to the
  // origin itself, without leading a flight of its own.
  return toOrigin(s, m, ex, key, tagsFor(m, ex), undefined, fallback)
}
