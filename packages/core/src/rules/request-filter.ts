import type { IncomingHttpHeaders } from 'node:http'
import { parseCacheControl } from '../http/cache-control'
import { parseQuery } from './key'
import {
  FORWARDING_HEADERS,
  MAX_QUERY_PARAMS,
  METHOD_OVERRIDE_HEADERS,
  onlyIgnoredCookies,
} from './request-view'
import type { CompiledCacheRule } from './types'

/**
 * Why a request matched by a cache rule is neither served from nor stored in
 * the cache. These are the safe defaults of Varnish's built-in policy.
 */
export type RequestBypassReason =
  | 'credentials'
  | 'no-user'
  /** A rule with a `tenant` that gave none for the request. */
  | 'no-tenant'
  | 'request-body'
  | 'request-no-store'
  | 'forwarded'
  | 'method-override'
  | 'query-params'
  /** Not a reason to skip the cache: `only-if-cached` found no copy (the answer is a 504). */
  | 'only-if-cached'

/** Header names that make a request worth a closer look (forwarding, method override). */
const SUSPECT = new Set([...FORWARDING_HEADERS, ...METHOD_OVERRIDE_HEADERS])
const OVERRIDE = new Set(METHOD_OVERRIDE_HEADERS)

export function requestBypassReason(
  rule: CompiledCacheRule,
  headers: IncomingHttpHeaders,
  user: string | undefined,
  rawQuery = '',
  tenant?: string,
): RequestBypassReason | undefined {
  if (rule.tenant !== undefined && tenant === undefined) return 'no-tenant'
  if (rule.perUser) {
    // The user comes from the app's verified auth, never from a raw header.
    if (user === undefined || user === '') return 'no-user'
  } else if (
    !rule.allowCredentials &&
    (headers.authorization !== undefined ||
      // Cookies that never change a response (ignoreCookies) are no credentials.
      (headers.cookie !== undefined && !onlyIgnoredCookies(rule.ignoresCookie, headers.cookie)))
  ) {
    // RFC 9111 §3.5: a shared cache must not reuse a response to an
    // authenticated request unless told it may.
    return 'credentials'
  }
  // A GET or HEAD with a body: the body could shape the response, and it is not in the key.
  const length = headers['content-length']
  if ((length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined) {
    return 'request-body'
  }
  // RFC 9111 §5.2.1.5: the client asked that nothing of this exchange be stored.
  // Client directives can only make caching stricter, never relax it.
  const cc = headers['cache-control']
  if (cc !== undefined && parseCacheControl(cc).has('no-store')) return 'request-no-store'
  for (const name in headers) {
    // Every suspect name starts with x- or f- (forwarded, front-end-https).
    const c = name.charCodeAt(0)
    if ((c !== 120 && c !== 102) || !SUSPECT.has(name)) continue
    // The route could run as another method than the one the key is for.
    if (OVERRIDE.has(name)) return 'method-override'
    // A forwarding header the rule neither keys nor passes (see request-view).
    if (!rule.viewHeaders.has(name)) return 'forwarded'
  }
  if (rawQuery !== '') {
    // `?_method=DELETE`: method-override's query form.
    if (/_method|%5f/i.test(rawQuery) && parseQuery(rawQuery).has('_method')) {
      return 'method-override'
    }
    // Past the frameworks' limit the route would not see every parameter the key holds.
    if (rawQuery.length > MAX_QUERY_PARAMS * 2 && countParams(rawQuery) > MAX_QUERY_PARAMS) {
      return 'query-params'
    }
  }
  return undefined
}

/** Whether the client asked for a stored response or nothing (RFC 9111 §5.2.1.7). */
export function onlyIfCached(headers: IncomingHttpHeaders): boolean {
  const cc = headers['cache-control']
  return cc !== undefined && parseCacheControl(cc).has('only-if-cached')
}

function countParams(rawQuery: string): number {
  let n = 1
  for (let i = rawQuery.indexOf('&'); i !== -1; i = rawQuery.indexOf('&', i + 1)) n++
  return n
}
