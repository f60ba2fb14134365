// The shop's environment, with the defaults of CONTRACT.md ("Starting an app").
// Read once, validated eagerly: a typo in PORT must stop the process at start-up,
// not surface later as a server bound to some other port.

export interface ShopConfig {
  port: number
  host: string
  redisUrl?: string
  // Prefix of cachet's Redis keys (CACHE_REDIS_PREFIX, default "cachet"): shops
  // with the same prefix on one Redis form one cache.
  redisPrefix?: string
  // The Redis tier's lease (CACHE_REDIS_LEASE, e.g. "3s", the default): the
  // longest an invalidation waits for a process that stopped answering. Use
  // the same value in every process of a cluster.
  redisLease?: string
  // Replicas that must acknowledge each invalidation (CACHE_REDIS_WAIT, e.g.
  // "1"; Redis WAIT) so that a failover cannot lose one reported done.
  redisWaitReplicas?: number
  // How many shards the keyspace has (CACHE_REDIS_SHARDS; default 1 on one
  // Redis, 12 on a Cluster). The same in every process of a prefix.
  redisShards?: number
  adminToken?: string
  // What a write does when Redis cannot record its invalidation
  // (CACHE_ON_INVALIDATION_FAILURE, "reject" (default: 503) or "defer": answer
  // it, replay the invalidation once Redis answers; docs/failing-well.md,
  // "Writes during a Redis outage").
  onInvalidationFailure: 'reject' | 'defer'
  originDelayMs: number
  // Whether ORIGIN_DELAY_MS was given: `/slow/:id` waits 50 ms unless it was.
  originDelaySet: boolean
  l1MaxBytes: number
  // Options merged into the named rules of CONTRACT.md's table
  // (CACHE_RULE_OPTIONS, JSON: `{"slow":{"originTimeout":{"soft":"100ms"}}}`),
  // checked by cachet at start-up like any rule: a typo stops the process.
  ruleOptions?: Record<string, Record<string, unknown>>
}

export type ShopEnv = Record<string, string | undefined>

export const DEFAULT_PORT = 3000
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_L1_MAX_BYTES = 64 * 1024 * 1024
export const DEFAULT_SLOW_DELAY_MS = 50

const MAX_PORT = 65535

export function readConfig(env: ShopEnv = process.env): ShopConfig {
  const delay = optional(env, 'ORIGIN_DELAY_MS')
  const config: ShopConfig = {
    port: integer(env, 'PORT', DEFAULT_PORT, 0, MAX_PORT),
    host: optional(env, 'HOST') ?? DEFAULT_HOST,
    originDelayMs: integer(env, 'ORIGIN_DELAY_MS', 0, 0, Number.MAX_SAFE_INTEGER),
    originDelaySet: delay !== undefined,
    onInvalidationFailure: failureMode(env),
    l1MaxBytes: integer(
      env,
      'CACHE_L1_MAX_BYTES',
      DEFAULT_L1_MAX_BYTES,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
  }
  const redisUrl = optional(env, 'REDIS_URL')
  if (redisUrl !== undefined) config.redisUrl = redisUrl
  const redisPrefix = optional(env, 'CACHE_REDIS_PREFIX')
  if (redisPrefix !== undefined) config.redisPrefix = redisPrefix
  const redisLease = optional(env, 'CACHE_REDIS_LEASE')
  if (redisLease !== undefined) config.redisLease = redisLease
  if (optional(env, 'CACHE_REDIS_WAIT') !== undefined)
    config.redisWaitReplicas = integer(env, 'CACHE_REDIS_WAIT', 0, 1, 16)
  if (optional(env, 'CACHE_REDIS_SHARDS') !== undefined)
    config.redisShards = integer(env, 'CACHE_REDIS_SHARDS', 1, 1, 1024)
  const ruleOptions = optional(env, 'CACHE_RULE_OPTIONS')
  if (ruleOptions !== undefined) config.ruleOptions = parseRuleOptions(ruleOptions)
  const adminToken = optional(env, 'CACHE_ADMIN_TOKEN')
  if (adminToken !== undefined) config.adminToken = adminToken
  return config
}

// What `createShop(partial)` runs with: the contract defaults (never the process
// environment, so tests are not steered by the shell), overridden by `partial`.
// Passing `originDelayMs` counts as setting ORIGIN_DELAY_MS.
export function resolveConfig(partial: Partial<ShopConfig> = {}): ShopConfig {
  const config: ShopConfig = { ...readConfig({}) }
  for (const [name, value] of Object.entries(partial)) {
    if (value !== undefined) Object.assign(config, { [name]: value })
  }
  if (partial.originDelaySet === undefined) {
    config.originDelaySet = partial.originDelayMs !== undefined
  }
  return config
}

// How long `/slow/:id` waits before answering (CONTRACT.md, route table).
export function slowDelayMs(config: ShopConfig): number {
  return config.originDelaySet ? config.originDelayMs : DEFAULT_SLOW_DELAY_MS
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function parseRuleOptions(raw: string): Record<string, Record<string, unknown>> {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (err) {
    throw new Error(`expected CACHE_RULE_OPTIONS to be JSON: ${(err as Error).message}`)
  }
  const problem = 'expected CACHE_RULE_OPTIONS to be a JSON object of rule names to options'
  if (!isObject(parsed)) throw new Error(`${problem}, got ${raw}`)
  for (const [name, options] of Object.entries(parsed))
    if (!isObject(options)) throw new Error(`${problem}; "${name}" has ${JSON.stringify(options)}`)
  return parsed as Record<string, Record<string, unknown>>
}

function failureMode(env: ShopEnv): 'reject' | 'defer' {
  const raw = optional(env, 'CACHE_ON_INVALIDATION_FAILURE') ?? 'reject'
  if (raw !== 'reject' && raw !== 'defer') {
    throw new Error(
      `expected CACHE_ON_INVALIDATION_FAILURE to be "reject" or "defer", got ${JSON.stringify(raw)}`,
    )
  }
  return raw
}

// An empty variable counts as unset, as `PORT= npm start` usually means "default".
function optional(env: ShopEnv, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function integer(env: ShopEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name)
  if (raw === undefined) return fallback
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(
      `expected ${name} to be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    )
  }
  return value
}
