import type { IncomingHttpHeaders } from 'node:http'
import type { CompiledCacheRule } from './types'

/**
 * Keys are a concatenation of self-delimiting components: each string is
 * written as `<length>:<text>`, an absent value as `!`, a list as
 * `#<count>;` followed by its items (the `;` ends the count: `#1;234:…` and
 * `#12;34:…` differ). No two different inputs give the same
 * key, whatever delimiters a query value or header contains. The memory tier
 * uses the key as is; a remote tier hashes it.
 */
export const KEY_VERSION = 'v2'

function str(value: string): string {
  return `${value.length}:${value}`
}

function list(values: readonly string[]): string {
  let out = `#${values.length};`
  for (const v of values) out += str(v)
  return out
}

/**
 * A request header's value as the key holds it: several lines are one list
 * (RFC 9110 §5.3), whitespace around its commas and at its ends is no part of
 * it, and runs of spaces are one: `fr,en` and ` fr ,  en` are one variant.
 * Case is kept (not every field is case-insensitive).
 */
export function normalizeHeaderValue(value: string | readonly string[]): string {
  const text = typeof value === 'string' ? value : value.join(', ')
  if (!/[\s,]/.test(text)) return text
  return text
    .trim()
    .replace(/[ \t]*,[ \t]*/g, ', ')
    .replace(/[ \t]{2,}/g, ' ')
}

function headerValue(value: string | string[] | undefined): string {
  if (value === undefined) return '!'
  return str(normalizeHeaderValue(value))
}

/**
 * An RFC 7239 `Forwarded` value as its elements (split at commas) of pairs
 * (split at semicolons), each trimmed; separators inside quoted strings are
 * part of their pair. `undefined` when a quoted string is left open: such a
 * value is taken whole.
 */
function forwardedElements(value: string): string[][] | undefined {
  const elements: string[][] = []
  let pairs: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (quoted) {
      if (c === 92)
        i++ // a quoted-pair: \ and the next character
      else if (c === 34) quoted = false
    } else if (c === 34) quoted = true
    else if (c === 59 || c === 44) {
      pairs.push(value.slice(start, i).trim())
      start = i + 1
      if (c === 44) {
        elements.push(pairs)
        pairs = []
      }
    }
  }
  if (quoted) return undefined
  pairs.push(value.slice(start).trim())
  elements.push(pairs)
  return elements
}

function isForPair(pair: string): boolean {
  const eq = pair.indexOf('=')
  return eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === 'for'
}

function joinElements(elements: string[][]): string {
  return elements.map((pairs) => pairs.filter((p) => p !== '').join(';')).join(', ')
}

/**
 * `Forwarded` as the route of a miss sees it: its elements and pairs in their
 * order, one spelling of the separators (`a=1;b=2, c=3`), so that two requests
 * of one key have one view but for their `for=` (the client's address).
 */
export function forwardedViewValue(value: string | readonly string[]): string {
  const text = normalizeHeaderValue(value)
  const elements = forwardedElements(text)
  return elements === undefined ? text : joinElements(elements)
}

/**
 * `Forwarded` as the key holds it: the view without its `for=` pairs (the
 * client's address, one per client, like `X-Forwarded-For`). Each element
 * keeps its place, even when nothing but `for=` was in it: `proto=` of the
 * first hop is not `proto=` of the second.
 */
export function forwardedKeyValue(value: string | readonly string[]): string {
  const text = normalizeHeaderValue(value)
  const elements = forwardedElements(text)
  if (elements === undefined) return text
  return joinElements(elements.map((pairs) => pairs.filter((p) => !isForPair(p))))
}

/** A forwarding header's value as the key holds it, and as the route of a miss sees it. */
export function proxyHeaderValue(
  name: string,
  value: string | readonly string[],
  view: boolean,
): string {
  if (name !== 'forwarded') return normalizeHeaderValue(value)
  return view ? forwardedViewValue(value) : forwardedKeyValue(value)
}

/**
 * Parses a raw query string as the frameworks do. `URLSearchParams` drops one
 * leading `?`, which the frameworks keep as part of the first name (`/r??a=1`
 * has the parameter `?a`), so it is given back.
 */
export function parseQuery(rawQuery: string): URLSearchParams {
  return new URLSearchParams(rawQuery.startsWith('?') ? `?${rawQuery}` : rawQuery)
}

/** The query component: all parameters sorted by name (stable), or the listed ones. */
export function queryComponent(spec: CompiledCacheRule['key']['query'], rawQuery: string): string {
  if (spec === 'none') return '!'
  // No query at all: every listed name is an empty list (the hit path skips parsing).
  if (rawQuery === '')
    return spec === 'all' ? '#0;' : `#${spec.length};${'#0;'.repeat(spec.length)}`
  const params = parseQuery(rawQuery)
  if (spec === 'all') {
    const pairs = [...params]
    // Order-insensitive across names; values of one name keep their order,
    // because the app sees `?a=1&a=2` and `?a=2&a=1` as different arrays.
    pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    let out = `#${pairs.length};`
    for (const [name, value] of pairs) out += str(name) + str(value)
    return out
  }
  let out = `#${spec.length};`
  for (const name of spec) out += list(params.getAll(name))
  return out
}

export interface KeyInput {
  path: string
  rawQuery: string
  headers: IncomingHttpHeaders
  user: string | undefined
  tenant?: string | undefined
}

/** Builds the key of a GET/HEAD request (HEAD shares the GET entry). */
export function buildKey(namespace: string, rule: CompiledCacheRule, input: KeyInput): string {
  let key = `${namespace}:${KEY_VERSION}:${str(rule.name)}${str(input.path)}`
  key += queryComponent(rule.key.query, input.rawQuery)
  key += `#${rule.key.headers.length};`
  for (const name of rule.key.headers) key += headerValue(input.headers[name])
  // Behind a trusted proxy, its forwarding headers (absent otherwise: keys unchanged).
  if (rule.proxyKey.length > 0) {
    key += `#${rule.proxyKey.length};`
    for (const name of rule.proxyKey) {
      const value = input.headers[name]
      key += value === undefined ? '!' : str(proxyHeaderValue(name, value, false))
    }
  }
  key += rule.perUser ? str(input.user ?? '') : '!'
  // Only rules with a tenant have the component: other keys are unchanged.
  if (rule.tenant !== undefined) key += `#t${str(input.tenant ?? '')}`
  return key
}
