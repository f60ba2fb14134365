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
}

/** Builds the key of a GET/HEAD request (HEAD shares the GET entry). */
export function buildKey(namespace: string, rule: CompiledCacheRule, input: KeyInput): string {
  let key = `${namespace}:${KEY_VERSION}:${str(rule.name)}${str(input.path)}`
  key += queryComponent(rule.key.query, input.rawQuery)
  key += `#${rule.key.headers.length};`
  for (const name of rule.key.headers) key += headerValue(input.headers[name])
  key += rule.perUser ? str(input.user ?? '') : '!'
  return key
}
