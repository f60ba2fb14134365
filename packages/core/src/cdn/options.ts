import { CachetConfigError, describeValue } from '../errors'
import { type Duration, parseDuration } from '../options/units'
import { unknownOption } from '../options/unknown-option'
import type { RuleContext } from '../rules/rule-context'
import { CDN_PROFILES, type CdnProfile, type CdnProvider } from './providers'
import type { Purger } from './purger'

/**
 * `cdn`: the CDN in front of the app. Responses the cache stores carry their
 * rule's tags in the CDN's tag header (`Surrogate-Key`, `Cache-Tag`...), and,
 * with `ttl`, a lifetime for the CDN alone in its targeted header
 * (`Surrogate-Control`, `CDN-Cache-Control`...), apart from the browser's
 * `Cache-Control`. With a `purger`, every invalidation also purges the CDN.
 */
export interface CdnOptions {
  provider: CdnProvider
  /** The tag header: required for `cloudfront` (the distribution's CacheTagConfig.HeaderName) and `custom`. */
  tagHeader?: string
  /** `custom`: how tags are separated. Default `','`. */
  separator?: ' ' | ','
  /** The targeted lifetime header, in place of the provider's; `false`: none. */
  ttlHeader?: string | false
  /** How long the CDN keeps a response (rule-driven rules; a rule's `cdn.ttl` wins). */
  ttl?: Duration
  staleWhileRevalidate?: Duration
  staleIfError?: Duration
  /** Calls the CDN's purge API on every invalidation (`fastlyPurger(...)`, from `@cachet/core/cdn`). */
  purger?: Purger
  /**
   * Without a purger nothing can take a response back from the CDN: its
   * lifetime there is capped at this. Default `'1m'`.
   */
  maxTtlWithoutPurger?: Duration
  /** The purge queue: pending tags at most (past it, one purge-everything is not available: see docs), attempts, pacing. */
  purge?: { maxPending?: number; perSecond?: number; timeout?: Duration }
}

/** A rule's own `cdn`: `false` sends no CDN headers; the lifetime options override the global ones. */
export type CdnRuleOptions =
  | false
  | { ttl?: Duration; staleWhileRevalidate?: Duration; staleIfError?: Duration }

/** `cdn`, checked. */
export interface CdnConfig {
  readonly provider: CdnProvider
  /** The provider's limits, with the tag header as configured. */
  readonly profile: CdnProfile
  /** Lower case, for header lists. */
  readonly tagHeader: string
  readonly ttlHeader: string | undefined
  readonly ttlMs: number | undefined
  readonly swrMs: number
  readonly sieMs: number
  readonly purger: Purger | undefined
  /** The longest CDN lifetime: `maxTtlWithoutPurger`, or unbounded with a purger. */
  readonly capMs: number
  readonly purge: {
    readonly maxPending: number
    readonly perSecond: number
    readonly timeoutMs: number
  }
}

/** A cache rule's CDN headers: the config, and its targeted lifetime value (none: the CDN reads Cache-Control). */
export interface CompiledCdn {
  readonly config: CdnConfig
  readonly ttlValue: string | undefined
}

const KNOWN = [
  'provider',
  'tagHeader',
  'separator',
  'ttlHeader',
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'purger',
  'maxTtlWithoutPurger',
  'purge',
]
const HEADER = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function fail(option: string, problem: string): never {
  throw new CachetConfigError('CACHET_INVALID_OPTION', `option "cdn${option}": ${problem}`)
}

function duration(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  const ms = parseDuration(value)
  if (typeof ms === 'string') fail(option, ms)
  return ms
}

/** `cdn`, checked; `undefined` when not set. */
export function resolveCdn(input: unknown): CdnConfig | undefined {
  if (input === undefined) return undefined
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    fail('', `expected { provider, ... }, got ${describeValue(input)}`)
  const o = input as Record<string, unknown>
  for (const key of Object.keys(o))
    if (!KNOWN.includes(key))
      throw new CachetConfigError('CACHET_INVALID_OPTION', unknownOption(key, KNOWN, 'cdn.'))
  const provider = o.provider as CdnProvider
  if (typeof provider !== 'string' || !(provider in CDN_PROFILES))
    fail(
      '.provider',
      `expected one of ${Object.keys(CDN_PROFILES).join(', ')}, got ${describeValue(o.provider)}`,
    )
  const base: CdnProfile = CDN_PROFILES[provider]
  let tagHeader = base.tagHeader
  if (o.tagHeader !== undefined) {
    if (typeof o.tagHeader !== 'string' || !HEADER.test(o.tagHeader))
      fail('.tagHeader', `expected a header name, got ${describeValue(o.tagHeader)}`)
    tagHeader = o.tagHeader
  }
  if (tagHeader === '')
    fail('.tagHeader', `required with provider "${provider}" (the header the CDN reads tags from)`)
  let separator = base.separator
  if (o.separator !== undefined) {
    if (provider !== 'custom')
      fail('.separator', `only for provider "custom" (${provider} decides)`)
    if (o.separator !== ' ' && o.separator !== ',')
      fail('.separator', `expected ' ' or ',', got ${describeValue(o.separator)}`)
    separator = o.separator
  }
  let ttlHeader: string | undefined = base.ttlHeader
  if (o.ttlHeader !== undefined) {
    if (o.ttlHeader === false) ttlHeader = undefined
    else if (typeof o.ttlHeader !== 'string' || !HEADER.test(o.ttlHeader))
      fail('.ttlHeader', `expected a header name or false, got ${describeValue(o.ttlHeader)}`)
    else ttlHeader = o.ttlHeader
  }
  const ttlMs = duration('.ttl', o.ttl)
  if (ttlMs !== undefined && ttlHeader === undefined)
    fail(
      '.ttl',
      `${provider} reads no lifetime of its own beside Cache-Control: give it s-maxage in a rule's cacheControl instead (or name a ttlHeader)`,
    )
  const purger = o.purger as Purger | undefined
  if (
    purger !== undefined &&
    (typeof purger !== 'object' || purger === null || typeof purger.send !== 'function')
  )
    fail('.purger', `expected a purger such as fastlyPurger(...), got ${describeValue(purger)}`)
  const purge = (o.purge ?? {}) as Record<string, unknown>
  if (typeof purge !== 'object' || purge === null) fail('.purge', 'expected an object')
  for (const key of Object.keys(purge))
    if (!['maxPending', 'perSecond', 'timeout'].includes(key))
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        unknownOption(key, ['maxPending', 'perSecond', 'timeout'], 'cdn.purge.'),
      )
  const count = (name: string, fallback: number, min: number, max: number, whole: boolean) => {
    const v = purge[name] ?? fallback
    if (typeof v !== 'number' || !(v >= min && v <= max) || (whole && !Number.isInteger(v)))
      fail(
        `.purge.${name}`,
        `expected ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${describeValue(purge[name])}`,
      )
    return v
  }
  return {
    provider,
    profile: { ...base, tagHeader, separator, ttlHeader },
    tagHeader: tagHeader.toLowerCase(),
    ttlHeader: ttlHeader?.toLowerCase(),
    ttlMs,
    swrMs: duration('.staleWhileRevalidate', o.staleWhileRevalidate) ?? 0,
    sieMs: duration('.staleIfError', o.staleIfError) ?? 0,
    purger,
    capMs:
      purger === undefined
        ? (duration('.maxTtlWithoutPurger', o.maxTtlWithoutPurger) ?? 60_000)
        : Number.POSITIVE_INFINITY,
    purge: {
      maxPending: count('maxPending', 10_000, 1, 1_000_000, true),
      perSecond: count('perSecond', 5, 0.01, 1000, false),
      timeoutMs: duration('.purge.timeout', purge.timeout) ?? 10_000,
    },
  }
}

/**
 * A cache rule's CDN headers: none for a per-user rule (its responses are
 * private) or with `cdn: false`; tags only for an origin-driven rule (the
 * origin's own headers give the CDN its lifetime).
 */
export function compileRuleCdn(
  ctx: RuleContext,
  value: unknown,
  config: CdnConfig | undefined,
  rule: { origin: boolean; perUser: boolean },
): CompiledCdn | undefined {
  if (value === false) return undefined
  if (value !== undefined) {
    if (config === undefined)
      ctx.fail('cdn', 'the options have no cdn: set cdn.provider there first')
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      ctx.fail(
        'cdn',
        `expected false or { ttl, staleWhileRevalidate, staleIfError }, got ${describeValue(value)}`,
      )
    for (const key of Object.keys(value))
      if (!['ttl', 'staleWhileRevalidate', 'staleIfError'].includes(key))
        ctx.unknown(key, ['ttl', 'staleWhileRevalidate', 'staleIfError'], 'cdn.')
    if (rule.perUser)
      ctx.fail('cdn', 'not on a per-user rule: its responses are private, never for a CDN')
    if (rule.origin)
      ctx.fail(
        'cdn',
        "not with ttl: 'origin' (the origin's headers give the CDN its lifetime); cdn: false is allowed",
      )
  }
  if (config === undefined || rule.perUser) return undefined
  if (rule.origin) return { config, ttlValue: undefined }
  const own = (value ?? {}) as Record<string, unknown>
  const ms = (option: string, fallback: number | undefined) => {
    if (own[option] === undefined) return fallback
    return ctx.check(`cdn.${option}`, parseDuration(own[option]))
  }
  const ttlMs = ms('ttl', config.ttlMs)
  if (ttlMs !== undefined && config.ttlHeader === undefined)
    ctx.fail('cdn.ttl', `${config.provider} reads no lifetime of its own beside Cache-Control`)
  if (ttlMs === undefined || config.ttlHeader === undefined) return { config, ttlValue: undefined }
  const seconds = (m: number) => Math.floor(Math.min(m, config.capMs) / 1000)
  const swr = ms('staleWhileRevalidate', config.swrMs) ?? 0
  const sie = ms('staleIfError', config.sieMs) ?? 0
  const parts = [`max-age=${seconds(ttlMs)}`]
  if (swr > 0) parts.push(`stale-while-revalidate=${seconds(swr)}`)
  if (sie > 0) parts.push(`stale-if-error=${seconds(sie)}`)
  return { config, ttlValue: parts.join(', ') }
}
