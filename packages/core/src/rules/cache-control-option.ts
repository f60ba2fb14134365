import { describeValue } from '../errors'
import { cacheControlDirectives } from '../http/cache-control'
import { parseDuration } from '../options/units'
import { checkBoolean, isPlainObject, type RuleContext } from './rule-context'
import type { ClientCacheControl } from './types'

/** Response directives `cacheControl` may send (RFC 9111 §5.2.2, RFC 5861, RFC 8246). */
const CLIENT_DIRECTIVES: Record<string, 'flag' | 'seconds' | 'fields'> = {
  public: 'flag',
  private: 'fields',
  'no-cache': 'fields',
  'no-store': 'flag',
  'no-transform': 'flag',
  'max-age': 'seconds',
  's-maxage': 'seconds',
  'must-revalidate': 'flag',
  'proxy-revalidate': 'flag',
  'must-understand': 'flag',
  'stale-while-revalidate': 'seconds',
  'stale-if-error': 'seconds',
  immutable: 'flag',
}

/** The fields of `ClientCacheControl`, in the order their directives are written. */
const CLIENT_FIELDS: ReadonlyArray<[keyof ClientCacheControl, string, 'flag' | 'seconds']> = [
  ['public', 'public', 'flag'],
  ['private', 'private', 'flag'],
  ['noCache', 'no-cache', 'flag'],
  ['noStore', 'no-store', 'flag'],
  ['maxAge', 'max-age', 'seconds'],
  ['sMaxAge', 's-maxage', 'seconds'],
  ['mustRevalidate', 'must-revalidate', 'flag'],
  ['staleWhileRevalidate', 'stale-while-revalidate', 'seconds'],
  ['staleIfError', 'stale-if-error', 'seconds'],
  ['immutable', 'immutable', 'flag'],
]

const TOKEN_SOURCE = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
const DIRECTIVE_SOURCE = `${TOKEN_SOURCE}(?:=(?:${TOKEN_SOURCE}|"(?:[^"\\\\\\x00-\\x1f\\x7f]|\\\\[^\\x00-\\x1f\\x7f])*"))?`
/** A Cache-Control field value: directives separated by commas (RFC 9110 §5.6.1), no empty ones. */
const CACHE_CONTROL_VALUE = new RegExp(
  `^${DIRECTIVE_SOURCE}(?:[ \\t]*,[ \\t]*${DIRECTIVE_SOURCE})*$`,
)

/**
 * `cacheControl`: a header value (checked: the syntax, known directives,
 * their values) or directives as an object (written in a fixed order), as
 * the one value the responses send. Not with `ttl: 'origin'` (the origin's
 * header drives storage and goes on to clients); a per-user rule's must
 * keep shared caches out (`private` or `no-store`).
 */
export function compileCacheControl(
  ctx: RuleContext,
  value: unknown,
  origin: boolean,
  perUser: boolean,
): string {
  if (origin) {
    ctx.fail(
      'cacheControl',
      "a rule with ttl: 'origin' sends the origin's Cache-Control: it decides what this cache stores, and what the clients after it keep",
    )
  }
  let text: string
  if (typeof value === 'string') text = value.trim()
  else if (isPlainObject(value)) text = cacheControlText(ctx, value)
  else {
    ctx.fail(
      'cacheControl',
      `expected a Cache-Control value ('public, max-age=60') or { maxAge, sMaxAge?, public?, private?, … }, got ${describeValue(value)}`,
    )
  }
  if (text === '') ctx.fail('cacheControl', 'expected at least one directive, got an empty string')
  if (!CACHE_CONTROL_VALUE.test(text)) {
    ctx.fail(
      'cacheControl',
      `not a Cache-Control value (directives such as max-age=60, separated by commas), got ${describeValue(value)}`,
    )
  }
  const directives = cacheControlDirectives(text)
  for (const [name, v] of directives) {
    const kind = CLIENT_DIRECTIVES[name]
    const given = v === true ? name : `${name}=${v}`
    if (kind === undefined) {
      ctx.fail(
        'cacheControl',
        `unknown directive ${describeValue(name)} (expected ${Object.keys(CLIENT_DIRECTIVES).join(', ')})`,
      )
    }
    if (kind === 'seconds' && (v === true || !/^\d+$/.test(v)))
      ctx.fail(
        'cacheControl',
        `"${name}" takes whole seconds (${name}=60), got ${describeValue(given)}`,
      )
    if (kind === 'flag' && v !== true)
      ctx.fail('cacheControl', `"${name}" takes no value, got ${describeValue(given)}`)
  }
  const names = new Set(directives.map(([name]) => name))
  if (names.has('public') && names.has('private'))
    ctx.fail('cacheControl', `both public and private, got ${describeValue(text)}`)
  const unqualifiedPrivate = directives.some(([name, v]) => name === 'private' && v === true)
  if (perUser && (names.has('public') || !(unqualifiedPrivate || names.has('no-store')))) {
    ctx.fail(
      'cacheControl',
      `a per-user rule's responses are one user's: a shared cache after this one must not keep them, so say private or no-store, got ${describeValue(text)}`,
    )
  }
  return text
}

/** The object form of `cacheControl` as a header value. */
function cacheControlText(ctx: RuleContext, value: Record<string, unknown>): string {
  const known = CLIENT_FIELDS.map(([field]) => field as string)
  for (const field of Object.keys(value)) {
    if (!known.includes(field)) ctx.unknown(field, known, 'cacheControl.')
  }
  const parts: string[] = []
  const set = (field: keyof ClientCacheControl) =>
    value[field] !== undefined && value[field] !== false
  for (const [field, directive, kind] of CLIENT_FIELDS) {
    const option = `cacheControl.${field}`
    const v = value[field]
    if (kind === 'flag') {
      if (checkBoolean(ctx, option, v)) parts.push(directive)
      continue
    }
    if (v === undefined) continue
    const ms = ctx.check(option, parseDuration(v))
    if (ms % 1000 !== 0)
      ctx.fail(option, `Cache-Control counts whole seconds, got ${describeValue(v)}`)
    parts.push(`${directive}=${ms / 1000}`)
  }
  if (!set('maxAge') && !set('sMaxAge') && !set('noCache') && !set('noStore')) {
    ctx.fail(
      'cacheControl',
      `expected maxAge, sMaxAge, noCache or noStore (how long clients may keep the response), got ${describeValue(value)}`,
    )
  }
  if (set('public') && set('private'))
    ctx.fail('cacheControl', 'both public and private: a response is one or the other')
  if (set('noStore')) {
    const lifetime = (
      ['maxAge', 'sMaxAge', 'staleWhileRevalidate', 'staleIfError', 'immutable'] as const
    ).filter(set)
    if (lifetime.length > 0)
      ctx.fail(
        'cacheControl.noStore',
        `a no-store response is kept nowhere: leave out ${lifetime.join(', ')}`,
      )
  }
  if (set('private') && set('sMaxAge'))
    ctx.fail(
      'cacheControl.sMaxAge',
      's-maxage is for shared caches, which a private response never reaches',
    )
  return parts.join(', ')
}
