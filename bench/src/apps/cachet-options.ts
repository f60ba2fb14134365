import type { CacheOptions, CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { type AppConfig, CACHE_TTL_S } from '../shared'

// cachet's rules and options for an app configuration.

function fillerRules(count: number, sharedFirstSegment: boolean): CacheRule[] {
  const rules: CacheRule[] = []
  for (let i = 0; i < count; i++) {
    let path: string
    if (!sharedFirstSegment) path = i % 2 === 0 ? `/f${i}/:id` : `/api/v1/f${i}/:id`
    else if (i % 3 === 0) path = `/data/:size/f${i}`
    else if (i % 3 === 1) path = `/data/f${i}/:id`
    else path = `/data/f${i}`
    rules.push({ path, ttl: 60 })
  }
  return rules
}

const DATA_RULE: CacheRule = { path: '/data/:size', ttl: CACHE_TTL_S }

/** The rules of a cachet app (see `RuleSetName`). */
export function cachetRules(cfg: AppConfig): CacheRule[] {
  if (cfg.rules === 'one') return [DATA_RULE]
  if (cfg.rules === 'many') return [...fillerRules(199, true), DATA_RULE]
  if (cfg.rules === 'many-distinct') return [...fillerRules(199, false), DATA_RULE]
  const own: CacheRule[] = [
    DATA_RULE,
    { path: '/miss/:size', ttl: CACHE_TTL_S, key: { query: 'all' } },
    { path: '/items/:id', ttl: CACHE_TTL_S },
    { path: '/tagged/:id', ttl: CACHE_TTL_S, tags: ['big'] },
    { path: '/small/:id', ttl: CACHE_TTL_S, tags: ['small'] },
    { path: '/slow/:id', ttl: CACHE_TTL_S },
    { path: '/flood/:id', ttl: CACHE_TTL_S },
  ]
  return [...own, ...fillerRules(20 - own.length, false)]
}

/** cachet's options for `cfg`: memory tier (or not), Redis tier (or not). */
export function cachetOptions(cfg: AppConfig): CacheOptions {
  const l1 = cfg.l1 === false ? false : cfg.maxBytes ? { maxBytes: cfg.maxBytes } : {}
  if (!cfg.redis) return { rules: cachetRules(cfg), store: { l1 } }
  if (!cfg.redisUrl) throw new Error('redis: true needs redisUrl')
  return {
    rules: cachetRules(cfg),
    store: {
      l1,
      l2: redisTier({ client: cfg.redisUrl, prefix: cfg.prefix ?? `bench-${process.pid}` }),
    },
  }
}
