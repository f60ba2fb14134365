import type { OutgoingHttpHeaders } from 'node:http'
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
  /** `ttl: 'origin'`: the response's headers give it no freshness left (RFC 9111 §4.2). */
  | 'no-lifetime'
  /**
   * `ttl: 'origin'`: the origin answered the cache's conditional request
   * `304` with an entity tag that is not the stored copy's (RFC 9111 §4.3.4):
   * nothing is updated.
   */
  | 'validator-mismatch'
  /** The response's header block is larger than `MAX_STORED_HEADER_BYTES`. */
  | 'header-size'
  /** The framework gave a body kind the adapter cannot capture (e.g. a fetch `Response`). */
  | 'body-kind'

/**
 * The largest header block stored: Node's default limit for the headers it
 * reads (`--max-http-header-size`, 16 KiB), which many clients and proxies
 * share. A larger one is not stored: replayed to every client, it would fail
 * for many of them (the "header oversize" cache-poisoned denial of service).
 */
export const MAX_STORED_HEADER_BYTES = 16 * 1024

/**
 * What the storage predicates read of a cache rule. A compiled cache rule
 * (`CompiledCacheRule`, rules/types.ts) is one; declared here so that these
 * RFC helpers do not depend on the rules layer.
 */
export interface StoragePolicy {
  /** The statuses the rule stores. */
  readonly statuses: ReadonlySet<number>
  /** `ttl: 'origin'`: the response's headers decide its freshness. */
  readonly origin: boolean
  /** The rule keys entries per user (a private cache of one user's responses). */
  readonly perUser: boolean
  /** The largest body stored, in bytes. */
  readonly maxBodySize: number
  /** The request headers in the rule's key (lower case). */
  readonly key: { readonly headers: readonly string[] }
}

/** The final statuses RFC 9110 §15 defines: those this cache understands (`must-understand`). */
const UNDERSTOOD_STATUS: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403,
  404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501,
  502, 503, 504, 505,
])

export function responseBypassReason(
  rule: StoragePolicy,
  status: number,
  headers: OutgoingHttpHeaders,
): ResponseBypassReason | undefined {
  // Only the rule's statuses; 5xx only for an origin-driven rule that says
  // `statuses: 'any'` (the rule compiler refuses them in a list).
  if (!rule.statuses.has(status) || (status >= 500 && !rule.origin)) return 'status'
  const cc = parseCacheControl(headers['cache-control'])
  // A shared cache must not hand one client's cookie to another, unless the
  // origin says the rest may be stored without it (RFC 9111 §5.2.2.4
  // `no-cache="Set-Cookie"`, §5.2.2.7 `private="Set-Cookie"`: the field is not stored).
  if (headers['set-cookie'] !== undefined && !names(cc, 'set-cookie')) return 'set-cookie'
  // RFC 9111 §5.2.2.3: must-understand stores a status this cache knows the
  // semantics of (and then overrides no-store), and never one it does not.
  // Origin-driven rules only: a rule-driven one keeps no-store's veto.
  if (rule.origin && cc.has('must-understand')) {
    if (!UNDERSTOOD_STATUS.has(status)) return 'status'
  } else if (cc.has('no-store')) return 'no-store' // RFC 9111 §5.2.2.5: no-store forbids storing.
  // RFC 9111 §5.2.2.7: private is for a private cache; a per-user entry is
  // one. `private="field"` lets a shared cache store the rest (the field is
  // left out); an empty or malformed list counts as unqualified.
  if (cc.has('private') && !rule.perUser && fieldList(cc.get('private')) === undefined)
    return 'private'
  // RFC 9111 §5.2.2.4: no-cache means revalidate on every use, which a
  // rule-driven entry does not do, so it is not stored at all; `no-cache="field"`
  // only forbids reusing that field (left out of the entry). An origin-driven
  // entry is stored stale and revalidated before every use (§4.3).
  if (!rule.origin && cc.has('no-cache') && fieldList(cc.get('no-cache')) === undefined)
    return 'no-cache'
  if (varyBlocks(rule, headerString(headers.vary))) return 'vary'
  const length = headers['content-length']
  if (length !== undefined && Number(length) > rule.maxBodySize) return 'too-large'
  if (headerBytes(headers) > MAX_STORED_HEADER_BYTES) return 'header-size'
  return undefined
}

/** The field names of a qualified directive (`no-cache="a, b"`), or `undefined` when it has none. */
function fieldList(value: string | true | undefined): string[] | undefined {
  if (typeof value !== 'string') return undefined
  const fields = value
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter((f) => f !== '')
  return fields.length > 0 ? fields : undefined
}

/** Whether a qualified `no-cache` or `private` names `field`. */
function names(cc: ReturnType<typeof parseCacheControl>, field: string): boolean {
  return (
    (fieldList(cc.get('no-cache'))?.includes(field) ?? false) ||
    (fieldList(cc.get('private'))?.includes(field) ?? false)
  )
}

/** The size of a header block as it goes on the wire (`name: value\r\n` per line). */
function headerBytes(headers: OutgoingHttpHeaders): number {
  let n = 0
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) n += name.length + String(v).length + 4
    else n += name.length + String(value).length + 4
  }
  return n
}

/**
 * RFC 9111 §4.1: a stored response can only be reused for requests whose
 * headers named in `Vary` match. Rule-driven entries are selected by the key
 * alone, so a Vary naming a header the key does not include (or `*`) forbids
 * storage; origin-driven ones are stored as variants, and only `*` forbids it.
 */
function varyBlocks(rule: StoragePolicy, vary: string | undefined): boolean {
  if (vary === undefined || vary.trim() === '') return false
  for (const raw of vary.split(',')) {
    const name = raw.trim().toLowerCase()
    if (name === '') continue
    // Origin-driven rules store the variant the request selects (engine/variants.ts).
    if (name === '*' || (!rule.origin && !rule.key.headers.includes(name))) return true
  }
  return false
}
