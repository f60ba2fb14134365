import type { CacheRule } from '@cachet/core'
import type { ShopConfig } from './config'

// The cache rules of CONTRACT.md's route table, shared by both apps so that they
// cache exactly alike. First match wins, so each write rule shares its path with
// the read rule above it and is told apart by its methods.
export const shopRules: CacheRule[] = [
  {
    name: 'product',
    path: '/products/:id',
    ttl: 60,
    key: { query: ['lang'] },
    tags: ['products', 'product:{params.id}'],
    statuses: [200, 404],
  },
  {
    name: 'product-write',
    path: '/products/:id',
    methods: ['PUT'],
    invalidates: ['product:{params.id}', 'products'],
  },
  { name: 'products', path: '/products', ttl: 30, tags: ['products'] },
  { name: 'cart', path: '/me/cart', ttl: 60, perUser: true, tags: ['user:{user}'] },
  { name: 'cart-write', path: '/me/cart', methods: ['POST'], invalidates: { user: true } },
  { name: 'asset', path: '/assets/:name', ttl: 300, maxBodySize: '1MiB' },
  { name: 'stream', path: '/stream/:chunks', ttl: 60, maxBodySize: '1MiB' },
  { name: 'status', path: '/status/:code', ttl: 60, statuses: [200, 404] },
  {
    name: 'slow',
    path: '/slow/:id',
    ttl: 5,
    staleWhileRevalidate: 30,
    staleIfError: 300,
    tags: ['products', 'product:{params.id}'],
  },
  { name: 'private', path: '/private/:id', ttl: 60 },
  { name: 'session', path: '/session', ttl: 60 },
  { name: 'reflect', path: '/reflect/:id', ttl: 60, key: { query: ['lang'] } },
]

/**
 * The shop's rules with the config's `ruleOptions` (CACHE_RULE_OPTIONS)
 * merged into the rules they name. A name no rule has stops the shop at
 * start-up; the merged options are cachet's to check.
 */
export function rulesFor(config: Pick<ShopConfig, 'ruleOptions'>): CacheRule[] {
  const extra = config.ruleOptions
  if (extra === undefined) return shopRules
  const names = new Set(shopRules.map((r) => r.name))
  for (const name of Object.keys(extra))
    if (!names.has(name))
      throw new Error(
        `CACHE_RULE_OPTIONS names no rule "${name}" (the rules: ${[...names].join(', ')})`,
      )
  return shopRules.map((r) =>
    r.name !== undefined && extra[r.name] !== undefined
      ? ({ ...r, ...extra[r.name] } as CacheRule)
      : r,
  )
}
