import { isPlainObject } from './rule-context'
import type { CacheRule } from './types'

/**
 * The options a rule may have, those `defaults` may set, and how a cache
 * rule takes the defaults.
 */

/**
 * The rule options `defaults` may set for every cache rule: a rule's own
 * value wins (`key` merges field by field); write rules take none of them.
 */
export const DEFAULT_OPTIONS = [
  'ttl',
  'maxTtl',
  'targeted',
  'staleWhileRevalidate',
  'staleIfError',
  'refreshAhead',
  'ttlJitter',
  'originTimeout',
  'statuses',
  'maxBodySize',
  'key',
  'allowCredentials',
  'passHeaders',
  'ignoreCookies',
  'compress',
  'cacheControl',
  'tenant',
] as const satisfies readonly (keyof CacheRule)[]

/** Defaults for every cache rule (`CacheOptions.defaults`). */
export type RuleDefaults = Pick<CacheRule, (typeof DEFAULT_OPTIONS)[number]>

export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024
/** With `ttl: 'origin'`, the longest freshness a response may claim. */
export const DEFAULT_ORIGIN_MAX_TTL = '1d'

export const CACHE_OPTIONS = new Set([
  'name',
  'path',
  'methods',
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'refreshAhead',
  'ttlJitter',
  'originTimeout',
  'statuses',
  'maxBodySize',
  'key',
  'perUser',
  'tags',
  'allowCredentials',
  'passHeaders',
  'maxTtl',
  'targeted',
  'compress',
  'ignoreCookies',
  'cacheControl',
  'tenant',
  'cdn',
])
export const WRITE_OPTIONS = new Set([
  'name',
  'path',
  'methods',
  'invalidates',
  'onInvalidationFailure',
])
/** Every option a rule may have, for an unknown option's message. */
export const RULE_OPTIONS = new Set([...CACHE_OPTIONS, ...WRITE_OPTIONS])

/** A cache rule with the engine's defaults where it sets nothing of its own. */
export function withDefaults(rule: CacheRule, defaults: RuleDefaults): CacheRule {
  const merged: Record<string, unknown> = {}
  for (const option of DEFAULT_OPTIONS) {
    if (defaults[option] !== undefined) merged[option] = defaults[option]
  }
  for (const [option, value] of Object.entries(rule)) {
    if (value !== undefined) merged[option] = value
  }
  // A default maxTtl is for the rules that say ttl: 'origin'.
  if (rule.maxTtl === undefined && merged.ttl !== 'origin') delete merged.maxTtl
  if (rule.targeted === undefined && merged.ttl !== 'origin') delete merged.targeted
  // A default cacheControl is for the rules with a ttl of their own: the origin's header drives the others.
  if (rule.cacheControl === undefined && merged.ttl === 'origin') delete merged.cacheControl
  // So are a default ttlJitter and refreshAhead: an origin-driven copy keeps
  // the freshness its headers give (and its Age may put it past any point).
  if (rule.ttlJitter === undefined && merged.ttl === 'origin') delete merged.ttlJitter
  if (rule.refreshAhead === undefined && merged.ttl === 'origin') delete merged.refreshAhead
  const own = rule.key as unknown
  if (isPlainObject(own) && isPlainObject(defaults.key)) merged.key = { ...defaults.key, ...own }
  return merged as unknown as CacheRule
}
