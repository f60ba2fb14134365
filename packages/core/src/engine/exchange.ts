import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { debuglog } from 'node:util'
import type { CompiledRule } from '../rules/types'

const debug = debuglog('cachet')

/** The neutral request an adapter hands to the engine. */
export interface Exchange {
  /** Upper-case method. */
  readonly method: string
  /** The raw (not decoded) path, without the query string. */
  readonly path: string
  /** The raw query string, without `?`. */
  readonly rawQuery: string
  readonly headers: IncomingHttpHeaders
  /** The app's verified user id, for per-user rules and write rules. */
  readonly user: string | undefined
  /** The request's tenant, for rules with a `tenant` (see `tenantOf`). */
  readonly tenant?: string | undefined
}

/**
 * The tenant `rule`'s `tenant` gives for `req`, or `undefined` (no tenant
 * function; none given; or it threw: the request then bypasses the cache).
 */
export function tenantOf(rule: CompiledRule, req: IncomingMessage): string | undefined {
  if (rule.kind !== 'cache' || rule.tenant === undefined) return undefined
  try {
    const tenant = rule.tenant(req)
    if (typeof tenant === 'string' && tenant !== '') return tenant
    if (tenant !== undefined && tenant !== '')
      debug('rule %s: tenant() gave %s, not a string: no tenant', rule.name, typeof tenant)
    return undefined
  } catch (err) {
    debug('rule %s: tenant() threw: %s', rule.name, (err as Error)?.message)
    return undefined
  }
}

/** Splits a request URL into its raw path and query string. */
export function splitUrl(url: string): { path: string; rawQuery: string } {
  const q = url.indexOf('?')
  let path = q === -1 ? url : url.slice(0, q)
  const rawQuery = q === -1 ? '' : url.slice(q + 1)
  if (!path.startsWith('/')) {
    // Absolute-form request target (RFC 9112 §3.2.2), as sent to proxies.
    try {
      path = new URL(path).pathname
    } catch {
      path = '/'
    }
  }
  return { path, rawQuery }
}

/** `url` with its query replaced by `rawQuery` (none when empty). */
export function withQuery(url: string, rawQuery: string): string {
  const q = url.indexOf('?')
  const base = q === -1 ? url : url.slice(0, q)
  return rawQuery === '' ? base : `${base}?${rawQuery}`
}

/** Whether an adapter must resolve the user before asking the engine about this rule. */
export function ruleNeedsUser(rule: CompiledRule): boolean {
  return rule.kind === 'invalidate' || rule.perUser
}
