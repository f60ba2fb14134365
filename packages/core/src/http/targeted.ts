import type { OutgoingHttpHeaders } from 'node:http'

/**
 * Targeted cache control (RFC 9213): a response field such as
 * `CDN-Cache-Control` that carries Cache-Control directives for one class of
 * caches. A cache with a target list uses the first of its fields that has a
 * valid, non-empty value, and then ignores `Cache-Control` and `Expires` of
 * that response (§2.2); with none valid, `Cache-Control` decides as before.
 *
 * The field is a Structured Field Dictionary (RFC 8941): a value that does
 * not parse as one, or a directive whose value has the wrong type
 * (`max-age="60"`), makes the whole field invalid, hence ignored (§2.1).
 * Parameters on members are ignored.
 */

/** The delta-seconds directives: their value must be a non-negative Integer. */
const DELTA = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error'])
/** The directives whose value may be a String (a list of field names) or nothing. */
const FIELDS = new Set(['no-cache', 'private'])

type Bare =
  | { kind: 'int'; n: number }
  | { kind: 'string'; s: string }
  | { kind: 'other'; text: string }

/** The field's value as Cache-Control directives, or `undefined` when it is not a valid, non-empty dictionary. */
export function targetedDirectives(
  value: string | readonly string[] | undefined,
): string | undefined {
  if (value === undefined) return undefined
  const text = typeof value === 'string' ? value : value.join(', ')
  const members = parseDictionary(text)
  if (members === undefined || members.size === 0) return undefined
  const out: string[] = []
  for (const [name, item] of members) {
    if (DELTA.has(name)) {
      // An Integer, or the field is invalid: `max-age`, `max-age=?1`, `max-age="60"` alike.
      if (typeof item !== 'object' || item.kind !== 'int' || item.n < 0) return undefined
      out.push(`${name}=${item.n}`)
    } else if (item === true) out.push(name)
    else if (item === false)
      continue // `?0`: the directive is off
    else if (FIELDS.has(name)) {
      if (item.kind !== 'string') return undefined
      out.push(`${name}=${quoted(item.s)}`)
    } else {
      out.push(
        `${name}=${item.kind === 'int' ? item.n : item.kind === 'string' ? quoted(item.s) : item.text}`,
      )
    }
  }
  return out.join(', ')
}

/** A String member back in Cache-Control's quoted-string form (RFC 9110 §5.6.4). */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`
}

/**
 * The response headers as this cache is to judge them: with the first valid
 * targeted field of `targets` (lower-case names) in place of `Cache-Control`,
 * and no `Expires`. `headers` itself when no target is valid. What is stored
 * and sent keeps every field as it was.
 */
export function policyHeaders(
  headers: OutgoingHttpHeaders,
  targets: readonly string[],
): OutgoingHttpHeaders {
  const directives = targetedOf((name) => fieldOf(headers, name), targets)
  if (directives === undefined) return headers
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (lower !== 'cache-control' && lower !== 'expires') out[name] = value
  }
  out['cache-control'] = directives
  return out
}

/** `Cache-Control` of stored flat headers (lower-case names) as this cache reads it: the targeted field's when valid. */
export function storedPolicy(headers: readonly string[], targets: readonly string[]): string[] {
  const values = (name: string) => {
    const found: string[] = []
    for (let i = 0; i < headers.length; i += 2)
      if (headers[i] === name) found.push(headers[i + 1] as string)
    return found.length === 0 ? undefined : found
  }
  if (targets.length > 0) {
    const directives = targetedOf(values, targets)
    if (directives !== undefined) return [directives]
  }
  return values('cache-control') ?? []
}

function targetedOf(
  get: (name: string) => string | readonly string[] | undefined,
  targets: readonly string[],
): string | undefined {
  for (const name of targets) {
    const directives = targetedDirectives(get(name))
    if (directives !== undefined) return directives
  }
  return undefined
}

function fieldOf(
  headers: OutgoingHttpHeaders,
  name: string,
): string | readonly string[] | undefined {
  let value = headers[name]
  if (value === undefined) {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name) value = headers[key]
  }
  if (value === undefined) return undefined
  return typeof value === 'number' ? String(value) : value
}

// RFC 8941 §4.2: just enough of a parser to accept or refuse a Dictionary.

const KEY = /^[a-z*][a-z0-9_\-.*]*/
const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/
const INTEGER = /^-?\d{1,15}(?![\d.])/
const DECIMAL = /^-?\d{1,12}\.\d{1,3}(?![\d.])/
const BYTES = /^:[A-Za-z0-9+/=]*:/

function parseDictionary(input: string): Map<string, Bare | boolean> | undefined {
  const out = new Map<string, Bare | boolean>()
  let s = input.replace(/^[ \t]+|[ \t]+$/g, '')
  if (s === '') return out
  for (;;) {
    const key = KEY.exec(s)?.[0]
    if (key === undefined) return undefined
    s = s.slice(key.length)
    let value: Bare | boolean = true
    if (s.startsWith('=')) {
      s = s.slice(1)
      if (s.startsWith('(')) {
        // An inner list: valid, but no directive takes one.
        const end = innerListEnd(s)
        if (end === undefined) return undefined
        value = { kind: 'other', text: s.slice(0, end) }
        s = s.slice(end)
      } else {
        const item = bareItem(s)
        if (item === undefined) return undefined
        value = item.value
        s = s.slice(item.length)
      }
    }
    const params = parameters(s)
    if (params === undefined) return undefined
    s = s.slice(params)
    out.set(key, value)
    s = s.replace(/^[ \t]*/, '')
    if (s === '') return out
    if (!s.startsWith(',')) return undefined
    s = s.slice(1).replace(/^[ \t]*/, '')
    if (s === '') return undefined // a trailing comma
  }
}

function bareItem(s: string): { value: Bare | boolean; length: number } | undefined {
  if (s.startsWith('?')) {
    if (s[1] === '0' || s[1] === '1') return { value: s[1] === '1', length: 2 }
    return undefined
  }
  if (s.startsWith('"')) {
    let i = 1
    let text = ''
    while (i < s.length) {
      const c = s[i] as string
      if (c === '\\') {
        const next = s[i + 1]
        if (next !== '"' && next !== '\\') return undefined
        text += next
        i += 2
        continue
      }
      if (c === '"') return { value: { kind: 'string', s: text }, length: i + 1 }
      const code = c.charCodeAt(0)
      if (code < 0x20 || code > 0x7e) return undefined
      text += c
      i++
    }
    return undefined
  }
  const decimal = DECIMAL.exec(s)?.[0]
  if (decimal !== undefined)
    return { value: { kind: 'other', text: decimal }, length: decimal.length }
  const integer = INTEGER.exec(s)?.[0]
  if (integer !== undefined)
    return { value: { kind: 'int', n: Number(integer) }, length: integer.length }
  const token = TOKEN.exec(s)?.[0]
  if (token !== undefined) return { value: { kind: 'other', text: token }, length: token.length }
  const bytes = BYTES.exec(s)?.[0]
  if (bytes !== undefined) return { value: { kind: 'other', text: bytes }, length: bytes.length }
  return undefined
}

/** The length of the parameters at the start of `s` (`;a=1;b`), or undefined when malformed. */
function parameters(s: string): number | undefined {
  let i = 0
  while (s[i] === ';') {
    i++
    while (s[i] === ' ') i++
    const key = KEY.exec(s.slice(i))?.[0]
    if (key === undefined) return undefined
    i += key.length
    if (s[i] === '=') {
      i++
      const item = bareItem(s.slice(i))
      if (item === undefined) return undefined
      i += item.length
    }
  }
  return i
}

function innerListEnd(s: string): number | undefined {
  let i = 1
  for (;;) {
    while (s[i] === ' ') i++
    if (s[i] === ')') {
      i++
      const params = parameters(s.slice(i))
      return params === undefined ? undefined : i + params
    }
    const item = bareItem(s.slice(i))
    if (item === undefined) return undefined
    i += item.length
    const params = parameters(s.slice(i))
    if (params === undefined) return undefined
    i += params
    if (s[i] !== ' ' && s[i] !== ')') return undefined
  }
}
