import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { CacheEngine, RefreshClaim } from '../engine/engine'
import type { Fill } from '../engine/fill'
import { internalRequest } from '../engine/internal-request'
import type { Conditionals } from '../http/conditional'

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

/** The conditional fields of a request, kept before a miss removes them from the route's view. */
export function conditionalsOf(headers: IncomingHttpHeaders): Conditionals | undefined {
  const inm = headers['if-none-match']
  const ims = headers['if-modified-since']
  const ae = headers['accept-encoding']
  if (inm === undefined && ims === undefined && ae === undefined) return undefined
  return { 'if-none-match': inm, 'if-modified-since': ims, 'accept-encoding': ae }
}

/**
 * Sets the conditional fields the route of a miss sees: the client's own are
 * removed (the cache answers them itself, from the stored entry: a route that
 * honoured them would answer 304, leaving nothing to store), and, origin-driven
 * with a stored copy past its freshness, the copy's validators take their
 * place (`Fill.conditionalHeaders`, RFC 9111 §4.3.1).
 */
export function routeConditionals(fill: Fill, headers: IncomingHttpHeaders): void {
  delete headers['if-none-match']
  delete headers['if-modified-since']
  const own = fill.conditionalHeaders()
  if (own === undefined) return
  Object.assign(headers, own)
  fill.markRevalidating()
}

/**
 * Starts the background refresh a stale-while-revalidate answer claimed: a
 * GET for `url` through `listener` (the app), carrying the headers of the
 * request that found the stale copy. The cache middleware recognises it and
 * fills the entry; whatever it answers goes nowhere. Without a listener the
 * refresh is over at once (another may start later).
 */
export function refreshInBackground(
  engine: CacheEngine,
  claim: RefreshClaim,
  rule: string,
  listener: RequestListener | undefined,
  from: IncomingMessage,
  url: string,
): void {
  if (listener === undefined) {
    engine.refreshSettled(claim, rule)
    return
  }
  void internalRequest(listener, { url, from }, engine.refreshTimeoutMs).then(() =>
    engine.refreshSettled(claim, rule),
  )
}
