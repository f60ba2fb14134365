import type { OutgoingHttpHeaders } from 'node:http'
import type { CompiledCacheRule } from '../rules/types'
import { parseCacheControl } from './cache-control'
import { headerString } from './headers'

/**
 * Why a response may not be stored, in rule-driven mode: the rule's ttl
 * decides freshness, but the response can still veto storage. Each predicate
 * names the RFC 9111 section it follows.
 */
export type ResponseBypassReason =
  | 'status'
  | 'set-cookie'
  | 'no-store'
  | 'private'
  | 'no-cache'
  | 'vary'
  | 'too-large'
  /** The framework gave a body kind the adapter cannot capture (e.g. a fetch `Response`). */
  | 'body-kind'

export function responseBypassReason(
  rule: CompiledCacheRule,
  status: number,
  headers: OutgoingHttpHeaders,
): ResponseBypassReason | undefined {
  // Only the rule's statuses; 5xx never (the rule compiler refuses them too).
  if (!rule.statuses.has(status) || status >= 500) return 'status'
  // A shared cache must not hand one client's cookie to another.
  if (headers['set-cookie'] !== undefined) return 'set-cookie'
  const cc = parseCacheControl(headers['cache-control'])
  // RFC 9111 §5.2.2.5: no-store forbids storing.
  if (cc.has('no-store')) return 'no-store'
  // RFC 9111 §5.2.2.7: private is for a private cache; a per-user entry is one.
  if (cc.has('private') && !rule.perUser) return 'private'
  // RFC 9111 §5.2.2.4: no-cache means revalidate on every use, which a
  // rule-driven entry does not do, so it is not stored at all.
  if (cc.get('no-cache') === true) return 'no-cache'
  if (varyBlocks(rule, headerString(headers.vary))) return 'vary'
  const length = headers['content-length']
  if (length !== undefined && Number(length) > rule.maxBodySize) return 'too-large'
  return undefined
}

/**
 * RFC 9111 §4.1: a stored response can only be reused for requests whose
 * headers named in `Vary` match. Rule-driven entries are selected by the key
 * alone, so a Vary naming a header the key does not include (or `*`) forbids
 * storage.
 */
function varyBlocks(rule: CompiledCacheRule, vary: string | undefined): boolean {
  if (vary === undefined || vary.trim() === '') return false
  for (const raw of vary.split(',')) {
    const name = raw.trim().toLowerCase()
    if (name === '') continue
    if (name === '*' || !rule.key.headers.includes(name)) return true
  }
  return false
}
