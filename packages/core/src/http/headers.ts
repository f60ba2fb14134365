import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http'
import { parseCacheControl } from './cache-control'

/**
 * Headers never stored with an entry: hop-by-hop fields (RFC 9110 §7.6.1),
 * the ones recomputed on every replay (`Age`, `Content-Length`), the
 * validator (kept apart as `entry.etag`), and the cache's own. The origin's
 * `Date` is stored: a hit says when the response was generated (RFC 9110
 * §6.6.1), `Age` how long ago; without one, the server adds the current time.
 */
const NOT_STORED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'age',
  'content-length',
  'etag',
  'x-cache',
  'cache-status',
])

export function headerString(value: OutgoingHttpHeader | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

/**
 * The `Vary` a response of a rule that keys request headers sends, so that
 * caches after this one (a browser, a CDN) keep its variants apart too
 * (RFC 9110 §12.5.5): the response's own list plus the keyed names it lacks;
 * `undefined` when there is nothing to add (none keyed, all listed, or `*`).
 */
export function varyWith(
  current: OutgoingHttpHeader | undefined,
  keyed: readonly string[],
): string | undefined {
  if (keyed.length === 0) return undefined
  const text = headerString(current)?.trim() ?? ''
  const listed = new Set(text.split(',').map((n) => n.trim().toLowerCase()))
  if (listed.has('*')) return undefined
  const missing = keyed.filter((n) => !listed.has(n))
  if (missing.length === 0) return undefined
  return text === '' ? missing.join(', ') : `${text}, ${missing.join(', ')}`
}

/**
 * The end-to-end headers of a response as a flat `[name, value, ...]` list with
 * lower-case names, ready for `res.writeHead(status, list)`. Fields named in
 * `Connection` are hop-by-hop too. `policy`: the Cache-Control this cache
 * obeys when it is not the response's own (a targeted field, RFC 9213):
 * the fields either one qualifies (`private="set-cookie"`) are left out.
 */
export function storableHeaders(
  headers: OutgoingHttpHeaders,
  policy?: OutgoingHttpHeader,
): string[] {
  const connection = headerString(headers.connection)
  const listed = connection ? new Set(connection.toLowerCase().split(/\s*,\s*/)) : undefined
  const own = qualifiedFields(headers['cache-control'])
  const targeted = policy === undefined ? undefined : qualifiedFields(policy)
  const qualified = targeted === undefined ? own : new Set([...(own ?? []), ...targeted])
  const out: string[] = []
  for (const rawName of Object.keys(headers)) {
    const name = rawName.toLowerCase()
    if (NOT_STORED.has(name) || listed?.has(name) || qualified?.has(name)) continue
    const value = headers[rawName]
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) out.push(name, String(v))
    else out.push(name, String(value))
  }
  return out
}

/**
 * Fields a `304` does not update in the stored copy (RFC 9111 §3.2): its
 * `Content-Length`, and the fields that describe the stored bytes themselves
 * (their coding, digest and range). `Content-Type` is updated, as RFC 9111
 * asks.
 */
const KEPT_ON_UPDATE = new Set([
  'content-length',
  'content-encoding',
  'content-md5',
  'content-range',
])

/**
 * A stored copy's headers updated from a `304 Not Modified` (RFC 9111 §3.2,
 * §4.3.4): each storable field of the 304 replaces the stored values of that
 * name, the others are kept. Flat `[name, value, ...]`, as stored.
 */
export function mergeNotModified(
  stored: readonly string[],
  update: OutgoingHttpHeaders,
  policy?: OutgoingHttpHeader,
): string[] {
  const all = storableHeaders(update, policy)
  const fresh: string[] = []
  for (let i = 0; i < all.length; i += 2)
    if (!KEPT_ON_UPDATE.has(all[i] as string)) fresh.push(all[i] as string, all[i + 1] as string)
  const replaced = new Set<string>()
  for (let i = 0; i < fresh.length; i += 2) replaced.add(fresh[i] as string)
  const out: string[] = []
  for (let i = 0; i < stored.length; i += 2)
    if (!replaced.has(stored[i] as string)) out.push(stored[i] as string, stored[i + 1] as string)
  out.push(...fresh)
  return out
}

/**
 * Fields named by `no-cache="…"` (RFC 9111 §5.2.2.4: not to be sent on a reuse
 * without revalidation) and `private="…"` (§5.2.2.7: not to be stored by a
 * shared cache): the rest of the response may be stored, these fields not.
 */
function qualifiedFields(header: OutgoingHttpHeader | undefined): Set<string> | undefined {
  if (header === undefined) return undefined
  const cc = parseCacheControl(Array.isArray(header) ? header : String(header))
  const out = new Set<string>()
  for (const directive of ['no-cache', 'private']) {
    const value = cc.get(directive)
    if (typeof value !== 'string') continue
    for (const name of value.split(',')) {
      const field = name.trim().toLowerCase()
      if (field !== '') out.add(field)
    }
  }
  return out.size > 0 ? out : undefined
}
