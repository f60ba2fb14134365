import type { IncomingHttpHeaders } from 'node:http'
import { parseCacheControl } from '../http/cache-control'
import type { CompiledCacheRule } from './types'

/**
 * Why a request matched by a cache rule is neither served from nor stored in
 * the cache. These are the safe defaults of Varnish's built-in policy.
 */
export type RequestBypassReason = 'credentials' | 'no-user' | 'request-body' | 'request-no-store'

export function requestBypassReason(
  rule: CompiledCacheRule,
  headers: IncomingHttpHeaders,
  user: string | undefined,
): RequestBypassReason | undefined {
  if (rule.perUser) {
    // The user comes from the app's verified auth, never from a raw header.
    if (user === undefined || user === '') return 'no-user'
  } else if (
    !rule.allowCredentials &&
    (headers.authorization !== undefined || headers.cookie !== undefined)
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
  return undefined
}
