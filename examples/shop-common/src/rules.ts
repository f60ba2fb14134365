import type { CacheRule } from '@cachet/core'

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
