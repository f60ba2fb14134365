import { requestBypassReason } from '../../rules/request-filter'
import type { CompiledCacheRule, RuleMatch } from '../../rules/types'
import type { Exchange } from '../exchange'
import type { Fill } from '../fill'
import { leadFlight } from './coalesce'
import { lookupRemote, startFill } from './fill-start'
import { memoryFind, variantOf } from './lookup'
import { keyOf, tagsFor } from './match'
import { endRevalidation, REVALIDATE_RETRY_MS } from './revalidate'
import type { EngineState } from './state'

// The refresh stage: the background refresh a stale-while-revalidate answer
// claimed (see revalidate.ts), run by the adapter as an internal request
// through the app, and the fill that stores the origin's new response.

/**
 * The refresh's fill, or `undefined` when there is nothing to do (another
 * request of this process is already at the origin, another process holds
 * the fill lock, or the shared tier already has a fresh copy, now promoted).
 */
export function refresh(
  s: EngineState,
  m: RuleMatch<CompiledCacheRule>,
  ex: Exchange,
): Fill | undefined | Promise<Fill | undefined> {
  const rule = m.rule
  const key = variantOf(s, rule, keyOf(s, rule, ex), ex, Date.now())
  if (
    requestBypassReason(rule, ex.headers, ex.user, ex.rawQuery, ex.tenant) !== undefined ||
    s.flights.has(key)
  ) {
    endRevalidation(s, key, 'skipped', rule.name)
    return undefined
  }
  const lead = leadFlight(s, key)
  const tags = tagsFor(m, ex)
  // Origin-driven: the refresh is a conditional request on the stale copy.
  const base = rule.origin ? memoryFind(s, rule, key, Date.now()) : undefined
  if (s.remote === undefined) {
    refreshFilling(s, key)
    return startFill(s, m, ex, key, tags, lead, undefined, true, base)
  }
  return lookupRemote(s, m, ex, key, tags, { flight: lead, revalidate: true, base }).then(
    (found) => {
      if (found !== 'busy' && found.type === 'miss') {
        refreshFilling(s, key)
        return found.fill
      }
      endRevalidation(s, key, 'skipped', rule.name)
      // Another process holds the fill lock, so its refresh is under way: no
      // new claim (an internal request, two shared-tier reads) for a while.
      if (found === 'busy')
        s.revalidations.set(key, { key, until: Date.now() + REVALIDATE_RETRY_MS })
      return undefined
    },
  )
}

/**
 * The refresh of `key` is now its fill's to end (its completion may come
 * after the internal request has finished, once the shared tier's write
 * answers): the adapter's claim no longer matches, so its `refreshSettled`
 * does not end it too.
 */
function refreshFilling(s: EngineState, key: string): void {
  s.revalidations.set(key, { key, until: Date.now() + s.abandonFlightMs })
}
