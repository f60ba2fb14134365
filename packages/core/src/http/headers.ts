import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http'

/**
 * Headers never stored with an entry: hop-by-hop fields (RFC 9110 §7.6.1),
 * the ones recomputed on every replay (`Date`, `Age`, `Content-Length`), the
 * validator (kept apart as `entry.etag`), and the cache's own.
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
  'date',
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
 * The end-to-end headers of a response as a flat `[name, value, ...]` list with
 * lower-case names, ready for `res.writeHead(status, list)`. Fields named in
 * `Connection` are hop-by-hop too.
 */
export function storableHeaders(headers: OutgoingHttpHeaders): string[] {
  const connection = headerString(headers.connection)
  const listed = connection ? new Set(connection.toLowerCase().split(/\s*,\s*/)) : undefined
  const out: string[] = []
  for (const rawName of Object.keys(headers)) {
    const name = rawName.toLowerCase()
    if (NOT_STORED.has(name) || listed?.has(name)) continue
    const value = headers[rawName]
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) out.push(name, String(v))
    else out.push(name, String(value))
  }
  return out
}
