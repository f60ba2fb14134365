import { describeValue } from '../errors'
import { headerNames, RuleContext, stringList, TOKEN } from './rule-context'
import type { CompiledKeySpec } from './types'

/**
 * What of a request a cache rule reads: the query parameters and headers its
 * key holds (`key`), and the cookies that never change a response
 * (`ignoreCookies`).
 */

/**
 * Cookies that never change a response, ignored by default (`ignoreCookies`):
 * analytics and advertising cookies a page's scripts set and read, which the
 * server never uses. A trailing `*` is a prefix. Google Analytics (`_ga`,
 * `_ga_<id>`, `_gid`, `_gat`, `_gat_<id>`, and the older `__utm*`), Google
 * Ads (`_gcl_*`), Meta (`_fbp`, `_fbc`), Hotjar (`_hj*`), Microsoft Clarity
 * (`_clck`, `_clsk`) and Bing UET (`_uetsid`, `_uetvid`), HubSpot (`__hstc`,
 * `__hssc`, `__hssrc`, `hubspotutk`), Matomo (`_pk_id.*`, `_pk_ses.*`).
 */
export const defaultIgnoredCookies: readonly string[] = Object.freeze([
  '_ga',
  '_ga_*',
  '_gid',
  '_gat',
  '_gat_*',
  '__utm*',
  '_gcl_*',
  '_fbp',
  '_fbc',
  '_hj*',
  '_clck',
  '_clsk',
  '_uetsid',
  '_uetvid',
  '__hstc',
  '__hssc',
  '__hssrc',
  'hubspotutk',
  '_pk_id.*',
  '_pk_ses.*',
])

/** `key`: the query (all of it, none, or the names listed) and the request headers keyed. */
export function compileKey(ctx: RuleContext, value: unknown): CompiledKeySpec {
  if (value === undefined) return { query: 'all', headers: [] }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.fail('key', `expected an object { query?, headers? }, got ${describeValue(value)}`)
  }
  const { query = 'all', headers = [], ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) ctx.unknown(unknown, ['query', 'headers'], 'key.')
  let q: CompiledKeySpec['query']
  if (query === 'all' || query === 'none') q = query
  else if (Array.isArray(query)) q = [...new Set(stringList(ctx, 'key.query', query))].sort()
  else
    ctx.fail(
      'key.query',
      `expected 'all', 'none' or an array of names, got ${describeValue(query)}`,
    )
  return { query: q, headers: headerNames(ctx, 'key.headers', headers) }
}

/** A cookie-name matcher for `ignoreCookies`: exact names, and prefixes ending in `*`. */
export function compileIgnoreCookies(ctx: RuleContext, value: unknown): (name: string) => boolean {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const name of stringList(ctx, 'ignoreCookies', value)) {
    if (name === '*') {
      ctx.fail(
        'ignoreCookies',
        'a bare "*" would ignore every cookie; for a route whose response never depends on any, use allowCredentials: true',
      )
    }
    const star = name.indexOf('*')
    if (star !== -1 && star !== name.length - 1) {
      ctx.fail(
        'ignoreCookies',
        `a "*" may come only at the end of a name (a prefix), got "${name}"`,
      )
    }
    const base = star === -1 ? name : name.slice(0, -1)
    if (!TOKEN.test(base)) ctx.fail('ignoreCookies', `${describeValue(name)} is not a cookie name`)
    if (star === -1) exact.add(name)
    else prefixes.push(base)
  }
  if (prefixes.length === 0) return (name) => exact.has(name)
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p))
}

/** The matcher of a rule that sets no `ignoreCookies`. */
export const DEFAULT_IGNORES_COOKIE = compileIgnoreCookies(
  new RuleContext(-1, 'defaultIgnoredCookies'),
  defaultIgnoredCookies,
)
