import { type CdnConfig, compileRuleCdn } from '../cdn/options'
import { describeValue } from '../errors'
import { parseDuration, parseSize } from '../options/units'
import { compileCacheControl } from './cache-control-option'
import { compileTags } from './compile-tags'
import { compileOriginTimeout } from './origin-timeout'
import type { CompiledPath } from './path-pattern'
import { compileIgnoreCookies, compileKey, DEFAULT_IGNORES_COOKIE } from './request-options'
import { type ProxyView, viewHeaders } from './request-view'
import { checkBoolean, headerNames, type RuleContext, TOKEN } from './rule-context'
import { DEFAULT_MAX_BODY_SIZE, DEFAULT_ORIGIN_MAX_TTL, type RuleDefaults } from './rule-options'
import type { CacheRule, CompiledCacheRule, CompiledRuleBase } from './types'

/** What is wrong with a `statuses` value, if anything (shared with `defaults.statuses`). */
export function statusesProblem(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    return `expected a non-empty array of status codes, got ${describeValue(value)}`
  }
  for (const s of value) {
    if (!Number.isInteger(s) || s < 200 || s > 499 || s === 206 || s === 304) {
      return `expected status codes from 200 to 499 (5xx, 206 and 304 are never stored), got ${describeValue(s)}`
    }
  }
  return undefined
}

/**
 * `statuses: 'any'` (origin-driven rules): every final status but 206 and
 * 304, as RFC 9111 §3 lets a shared cache store any response with explicit
 * freshness (or a heuristically cacheable status with a heuristic one).
 */
const ANY_STATUS: ReadonlySet<number> = new Set(
  Array.from({ length: 400 }, (_, i) => 200 + i).filter((s) => s !== 206 && s !== 304),
)

function compileStatuses(ctx: RuleContext, value: unknown, origin: boolean): ReadonlySet<number> {
  if (value === 'any') {
    if (!origin)
      ctx.fail(
        'statuses',
        "'any' only with ttl: 'origin' (where the response's own freshness decides); list the statuses to store",
      )
    return ANY_STATUS
  }
  const problem = statusesProblem(value)
  if (problem !== undefined) ctx.fail('statuses', problem)
  return new Set(value as number[])
}

/** A stale window: a duration of 0 or more (parseDuration refuses negatives), 0 when absent. */
function staleWindow(ctx: RuleContext, option: string, value: unknown): number {
  return value === undefined ? 0 : ctx.check(option, parseDuration(value))
}

/** A fraction of the ttl: a number from 0 (allowed when `zero`) to below 1; 0 when absent. */
function fractionOf(ctx: RuleContext, option: string, value: unknown, zero: boolean): number {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !(value < 1) || !(zero ? value >= 0 : value > 0)) {
    ctx.fail(
      option,
      `expected a fraction of the ttl, a number ${zero ? 'from 0' : 'above 0'} and below 1 (0.8: 80%), got ${describeValue(value)}`,
    )
  }
  return value
}

/**
 * The options of a cache rule (one with a ttl, its own or the defaults'),
 * after the ones every rule has (`base`: name, path, methods). `rule` has
 * the defaults merged in already; `defaults` is for the messages that name
 * what was given.
 */
export function compileCacheRule(
  ctx: RuleContext,
  rule: CacheRule,
  defaults: RuleDefaults,
  proxy: ProxyView,
  base: CompiledRuleBase,
  path: CompiledPath,
  cdn?: CdnConfig,
): CompiledCacheRule {
  const perUser = checkBoolean(ctx, 'perUser', rule.perUser)
  const origin = rule.ttl === 'origin'
  if (!origin && rule.maxTtl !== undefined)
    ctx.fail('maxTtl', "only a rule with ttl: 'origin' has a maxTtl (the ttl is the lifetime)")
  const ttlMs = origin
    ? ctx.check('maxTtl', parseDuration(rule.maxTtl ?? DEFAULT_ORIGIN_MAX_TTL))
    : ctx.check('ttl', parseDuration(rule.ttl ?? defaults.ttl))
  if (ttlMs <= 0) {
    if (origin)
      ctx.fail('maxTtl', `expected more than 0 seconds, got ${describeValue(rule.maxTtl)}`)
    ctx.fail(
      'ttl',
      `expected more than 0 seconds or 'origin', got ${describeValue(rule.ttl ?? defaults.ttl)}`,
    )
  }
  const staleWhileRevalidateMs = staleWindow(ctx, 'staleWhileRevalidate', rule.staleWhileRevalidate)
  const staleIfErrorMs = staleWindow(ctx, 'staleIfError', rule.staleIfError)
  const refreshAhead = fractionOf(ctx, 'refreshAhead', rule.refreshAhead, false)
  const ttlJitter = fractionOf(ctx, 'ttlJitter', rule.ttlJitter, true)
  if (origin && refreshAhead > 0)
    ctx.fail(
      'refreshAhead',
      "not with ttl: 'origin' (a copy's Age can put it past the point as it arrives, and every hit would refresh it)",
    )
  if (origin && ttlJitter > 0)
    ctx.fail('ttlJitter', "not with ttl: 'origin' (each copy keeps the freshness its headers give)")
  if (rule.tenant !== undefined && typeof rule.tenant !== 'function')
    ctx.fail(
      'tenant',
      `expected a function of the request returning the tenant, got ${describeValue(rule.tenant)}`,
    )
  const key = compileKey(ctx, rule.key)
  const allowCredentials = checkBoolean(ctx, 'allowCredentials', rule.allowCredentials)
  const passHeaders = headerNames(ctx, 'passHeaders', rule.passHeaders ?? [])
  return {
    ...base,
    kind: 'cache',
    ttlMs,
    origin,
    targeted: compileTargeted(ctx, rule.targeted, origin),
    staleWhileRevalidateMs,
    staleIfErrorMs,
    refreshAhead,
    ttlJitter,
    originTimeout: compileOriginTimeout(ctx, rule.originTimeout, origin || staleIfErrorMs > 0),
    tenant: rule.tenant,
    // Origin-driven copies may also be kept for their own RFC 5861 windows, each at most maxTtl.
    lifetimeMs: ttlMs + Math.max(staleWhileRevalidateMs, staleIfErrorMs, origin ? ttlMs : 0),
    statuses: compileStatuses(ctx, rule.statuses ?? defaults.statuses ?? [200], origin),
    maxBodySize: ctx.check(
      'maxBodySize',
      parseSize(rule.maxBodySize ?? defaults.maxBodySize ?? DEFAULT_MAX_BODY_SIZE),
    ),
    key,
    perUser,
    allowCredentials,
    compress: checkBoolean(ctx, 'compress', rule.compress),
    ...(rule.cacheControl === undefined
      ? {}
      : { cacheControl: compileCacheControl(ctx, rule.cacheControl, origin, perUser) }),
    passHeaders,
    cdn: compileRuleCdn(ctx, rule.cdn, cdn, { origin, perUser }),
    viewHeaders: viewHeaders(key.headers, passHeaders, perUser || allowCredentials, proxy),
    // A header the rule keys itself is keyed once, as the rule says.
    proxyKey: proxy.keyed.filter((n) => !key.headers.includes(n)),
    ignoresCookie:
      rule.ignoreCookies === undefined
        ? DEFAULT_IGNORES_COOKIE
        : compileIgnoreCookies(ctx, rule.ignoreCookies),
    tags: compileTags(ctx, 'tags', rule.tags ?? [], path, perUser),
    routeTag: `#route:${base.name}`,
  }
}

/** RFC 9213 targeted fields: only for origin-driven rules; `CDN-Cache-Control` by default. */
function compileTargeted(ctx: RuleContext, value: unknown, origin: boolean): readonly string[] {
  if (!origin) {
    if (value !== undefined)
      ctx.fail(
        'targeted',
        "only a rule with ttl: 'origin' reads targeted fields (its own ttl decides)",
      )
    return []
  }
  if (value === undefined) return ['cdn-cache-control']
  if (value === false) return []
  const names = typeof value === 'string' ? [value] : value
  if (!Array.isArray(names) || names.length === 0)
    ctx.fail(
      'targeted',
      `expected false, a header name or a list of them, got ${describeValue(value)}`,
    )
  const out: string[] = []
  for (const n of names as unknown[]) {
    if (typeof n !== 'string' || !TOKEN.test(n))
      ctx.fail('targeted', `${describeValue(n)} is not a header name`)
    const lower = n.toLowerCase()
    if (lower === 'cache-control')
      ctx.fail(
        'targeted',
        'Cache-Control is what targeted fields take precedence over; leave it out',
      )
    if (!out.includes(lower)) out.push(lower)
  }
  return out
}
