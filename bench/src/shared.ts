// What the runner and the app processes agree on: app configurations, payloads
// and the routes every app serves.

export type Framework = 'node' | 'express' | 'koa' | 'fastify'
/**
 * `bound`: no cache, but the first middleware answers `/data/:size` with the
 * precomputed body and headers (`writeHead` + `end`): what any cache mounted
 * with `app.use` could at best do on a hit, for the framework's own work
 * before it.
 */
export type CacheKind = 'none' | 'cachet' | 'apicache' | 'koa-cash' | 'bound'

/**
 * The rule sets of a cachet app. `standard`: the 7 rules the bench routes use
 * plus 13 fillers (20 rules). `one`: only the `/data/:size` rule. `many`: 199
 * fillers that share the first path segment `/data` with the hit rule, which
 * comes last (the worst case for an index on the first segment, as in an app
 * whose routes all start with `/api`), 200 rules in all. `many-distinct`: 199
 * fillers with first segments of their own, then the hit rule.
 */
export type RuleSetName = 'standard' | 'one' | 'many' | 'many-distinct'

/** One app process: what it runs, passed as JSON in argv[2]. */
export interface AppConfig {
  framework: Framework
  cache: CacheKind
  /** cachet: a Redis L2 tier; apicache: a Redis client. Needs `redisUrl`. */
  redis?: boolean
  /** cachet: the memory tier (default on). */
  l1?: boolean
  rules?: RuleSetName
  /** cachet: `store.l1.maxBytes`. */
  maxBytes?: string
  /** cachet: the server's listener is `cache.edge(app)`: memory hits answered before the framework runs. */
  edge?: boolean
  /** Set by the runner. */
  redisUrl?: string
  /** Set by the runner: a Redis key prefix of this process's own. */
  prefix?: string
}

export const SIZES = { '2k': 2 * 1024, '100k': 100 * 1024 } as const
export type SizeName = keyof typeof SIZES

/** Body size of the memory flood's responses (a fresh buffer per response). */
export const FLOOD_BODY_BYTES = 16 * 1024
/** Body size of the entries that invalidation fills. */
export const SMALL_BODY_BYTES = 64
/** How long the stampede's origin takes. */
export const SLOW_ORIGIN_MS = 100

/** A JSON document of exactly `bytes` bytes: an array of records, padded. */
export function jsonPayload(bytes: number): Buffer {
  const items: string[] = []
  let length = 2 // the brackets
  for (let i = 0; ; i++) {
    const item = JSON.stringify({
      id: i,
      sku: `SKU-${String(i).padStart(6, '0')}`,
      name: `Product ${i}`,
      price: Math.round(((i * 7919) % 10000) + 99) / 100,
      stock: (i * 31) % 500,
    })
    if (length + item.length + 1 > bytes - 32) break
    items.push(item)
    length += item.length + 1
  }
  const head = `{"items":[${items.join(',')}],"pad":"`
  const pad = Math.max(0, bytes - head.length - 2)
  const text = `${head}${'x'.repeat(pad)}"}`
  return Buffer.from(text)
}

/**
 * The routes every app serves (`:size` is `2k` or `100k`):
 * - `/data/:size`: a precomputed body; cached (the hit measurements)
 * - `/miss/:size`: the same body; cached with every query parameter in the key
 *   (requests with a unique query: the origin runs every time and is stored)
 * - `/other/:size`: the same body; no rule matches
 * - `/items/:id`: a 2 KB body; cached (L1 scaling, prefilled by the control port)
 * - `/tagged/:id`, `/small/:id`: 64 bytes; cached with tag `big` / `small`
 * - `/slow/:id`: 64 bytes after 100 ms; cached (the stampede)
 * - `/flood/:id`: a fresh 16 KB buffer per call; cached (the memory flood)
 */
export const ROUTE = /^\/([a-z]+)\/([^/?]+)$/

export const CACHE_TTL_S = 3600
