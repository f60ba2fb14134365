/**
 * Cache-Control parsing, RFC 9111 §5.2: directives are case-insensitive,
 * separated by commas, with optional `=token` or `="quoted string"` values;
 * several header lines are one list (RFC 9110 §5.3). Only the first
 * occurrence of a directive counts; a malformed value is kept as given so
 * that callers can treat it conservatively.
 */
export type CacheControl = ReadonlyMap<string, string | true>

const EMPTY: CacheControl = new Map()

/**
 * Every directive in order, repeats included, split on commas outside quoted
 * strings; names lower-cased, quoted values unquoted.
 */
export function cacheControlDirectives(
  header: string | readonly string[] | number | undefined,
): Array<[name: string, value: string | true]> {
  if (header === undefined) return []
  const text = Array.isArray(header) ? header.join(',') : String(header)
  const out: Array<[string, string | true]> = []
  let i = 0
  while (i < text.length) {
    let end = i
    let inQuotes = false
    // A comma inside a quoted value (`no-cache="a, b"`) does not end the directive.
    while (end < text.length && (inQuotes || text[end] !== ',')) {
      if (inQuotes && text[end] === '\\') end++
      else if (text[end] === '"') inQuotes = !inQuotes
      end++
    }
    const part = text.slice(i, end).trim()
    i = end + 1
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (name === '') continue
    let value: string | true = true
    if (eq !== -1) {
      value = part.slice(eq + 1).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1, -1).replace(/\\(.)/g, '$1')
      }
    }
    out.push([name, value])
  }
  return out
}

export function parseCacheControl(
  header: string | readonly string[] | number | undefined,
): CacheControl {
  const list = cacheControlDirectives(header)
  if (list.length === 0) return EMPTY
  const out = new Map<string, string | true>()
  for (const [name, value] of list) if (!out.has(name)) out.set(name, value)
  return out
}

/** RFC 9111 §5.2.2.4: an unqualified `no-cache` (a field list only keeps those fields out). */
export function unqualifiedNoCache(cc: CacheControl): boolean {
  const value = cc.get('no-cache')
  if (value === undefined) return false
  return value === true || value.split(',').every((f) => f.trim() === '')
}
