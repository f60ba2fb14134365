import { type CdnConfig, type CdnOptions, resolveCdn } from '../cdn/options'
import { type DiskTierOptions, withDiskTier } from '../disk/options'
import { CachetConfigError, describeValue } from '../errors'
import type { CacheLogger } from '../observe/tier-log'
import { checkDefaults, invalidationFailureProblem, type RuleDefaults } from '../rules/compile-rule'
import { type ProxyView, resolveProxy } from '../rules/request-view'
import type { CacheRule, InvalidationFailureMode } from '../rules/types'
import type { BreakerOptions } from '../tiers/breaker'
import type { MemoryTierOptions } from '../tiers/memory-tier'
import type { RemoteTier } from '../tiers/remote-tier'
import { type Duration, parseDuration } from './units'
import { unknownOption } from './unknown-option'

export type { InvalidationFailureMode }

/** Everything the engine takes; `cacheMiddleware(rules)` is short for `{ rules }`. */
export interface CacheOptions {
  rules: readonly CacheRule[]
  store?: {
    /**
     * The memory tier, bounded by `maxBytes`; `false` turns it off (every hit
     * then comes from `l2`). `maxTtl` caps how long a memory entry lives when
     * `l2` has no invalidation bus (a Keyv store): across processes, that is
     * the longest an invalidated response can still be served.
     */
    l1?: (MemoryTierOptions & { maxTtl?: Duration }) | false
    /** A shared tier: `redisTier(...)` from `@cachet/core/redis`, `keyvTier(...)` from `@cachet/core/keyv`. */
    l2?: RemoteTier
    /**
     * A disk tier, kept across restarts: `{ dir, maxBytes }` (a directory this
     * process owns) or `{ keyv }` (a Keyv store such as `@keyv/sqlite`). Below
     * `l2` (Redis), a copy on disk is served only while its tags' versions in
     * Redis still match; without `l2`, it is the shared tier itself, with its
     * tag versions persisted beside the entries. See docs/disk-tier.md.
     */
    l3?: DiskTierOptions
  }
  /**
   * Defaults for every cache rule, validated as a rule's options are: `ttl`,
   * `maxTtl`, `staleWhileRevalidate`, `staleIfError`, `refreshAhead`,
   * `ttlJitter`, `statuses`,
   * `maxBodySize`, `key`, `allowCredentials`, `passHeaders`, `ignoreCookies`,
   * `compress`. A rule's own value wins; `key` merges field by field.
   */
  defaults?: RuleDefaults
  /**
   * The app runs behind a reverse proxy (nginx, a load balancer, an ingress).
   * `trusted: true`: the forwarding headers it sets (`headers`, default
   * `Forwarded`, `X-Forwarded-For`, `-Host`, `-Port`, `-Prefix`, `-Proto`,
   * `X-Real-IP`) no longer make requests bypass the cache: the client's
   * address (`X-Forwarded-For`, `X-Real-IP`, `Forwarded`'s `for=`) reaches the
   * route of a miss unkeyed, the others are keyed. Forwarding headers not
   * listed are still bypassed. Default: not trusted (every forwarded request
   * is bypassed).
   */
  proxy?: { trusted: boolean; headers?: readonly string[] }
  /**
   * What separates this app from others on one store: its entry keys, and
   * with a shared tier that has no `prefix` of its own, every key the tier
   * writes (tag versions, pattern log, fill locks; on Redis also the bus,
   * leases and top URLs, all under `{namespace}`), so one app's
   * invalidations and purges never reach another's. Default `'cachet'`.
   */
  namespace?: string
  /**
   * When the shared tier cannot record an invalidation (Redis unreachable):
   * `'reject'` (default) makes the write answer 503 and `invalidate()`
   * reject; `'defer'` answers the write as the route did and resolves
   * `invalidate()` with `deferred: true`, applies it in this process at once,
   * and replays it to the shared tier (bounded outbox) before reading from it
   * again. A write rule's own `onInvalidationFailure` wins.
   */
  onInvalidationFailure?: InvalidationFailureMode
  /** Concurrent misses of one key wait for the first one's origin call. */
  coalesce?: {
    /** Waiters per key; more go to the origin themselves. Default 1000. */
    maxWaiters?: number
    /** Longest wait, then the waiter goes to the origin itself. Default 10 s. */
    maxWait?: Duration
  }
  /**
   * The shared tier's circuit breaker: after `failures` failed operations in a
   * row (errors and deadlines), requests stop asking the tier (misses at once)
   * and one probe goes through after `cooldown`, doubled after each failed
   * probe up to `maxCooldown`. Defaults 5, `'500ms'`, `'5s'`.
   */
  breaker?: { failures?: number; cooldown?: Duration; maxCooldown?: Duration }
  /**
   * Warm-up support. `track`: count requests per cache rule (not per-user
   * ones) and keep the `track` most requested URLs of each, for
   * `engine.topUrls(n)` and `cache.warm({ top: n })`; off by default. With a
   * shared tier that can keep them (Redis), the list is also saved there
   * every `save` (default `'30s'`) and on close, kept for `ttl` after the last
   * save (default `'7d'`), and read back at start.
   */
  warm?: { track?: number; save?: Duration; ttl?: Duration }
  /**
   * Where warnings go: the shared tier cannot connect, loses its connection
   * or is degraded (its breaker opened), and when it answers again; one line
   * each, rate-limited, never one per failed request. Any object with a
   * `warn(message)` method (`console`, a pino or winston logger); `false`
   * silences them. Default `console` (`console.warn`).
   */
  logger?: CacheLogger | false
  /**
   * The CDN in front: its tag header on every stored response (the rule's
   * tags), a lifetime of its own, and purges on every invalidation with a
   * `purger`. See docs/cdn.md.
   */
  cdn?: CdnOptions
}

export interface ResolvedOptions {
  rules: unknown
  l1: MemoryTierOptions | false
  l1MaxTtlMs: number
  l2: RemoteTier | undefined
  cdn: CdnConfig | undefined
  defaults: RuleDefaults
  proxy: ProxyView
  namespace: string
  /** Whether `namespace` was set (a shared tier's own `prefix` must then agree with it). */
  namespaceGiven: boolean
  onInvalidationFailure: InvalidationFailureMode
  maxWaiters: number
  maxWaitMs: number
  breaker: BreakerOptions
  /** `track` 0: off. */
  warm: { track: number; saveMs: number; ttlMs: number }
  /** Undefined: silenced (`logger: false`). */
  logger: CacheLogger | undefined
}

/** Most URLs tracked per rule by `warm.track`. */
export const MAX_TRACKED_PER_RULE = 10_000

/** Node's timers fire at once beyond this (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1

function fail(option: string, problem: string): never {
  throw new CachetConfigError('CACHET_INVALID_OPTION', `option "${option}": ${problem}`)
}

function checkKeys(option: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw new CachetConfigError('CACHET_INVALID_OPTION', unknownOption(key, known, option))
  }
}

/** A rule object where rules or options were expected: its `path`, else undefined. */
function loneRulePath(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const v = value as Record<string, unknown>
  if (v.rules !== undefined || typeof v.path !== 'string') return undefined
  return v.path
}

/**
 * How a call that takes rules is written, for the messages when it was given
 * something else: each adapter names its own (`cacheMiddleware()`,
 * `app.register(cachePlugin, options)`, `createCache()`).
 */
export interface RulesCall {
  /** The call as the user wrote it, e.g. `cacheMiddleware()`. */
  readonly call: string
  /** A right way to write it. */
  readonly example: string
  /** How a lone rule goes in, e.g. `wrap it in an array: cacheMiddleware([rule])`. */
  readonly lone: string
}

const MIDDLEWARE_CALL: RulesCall = {
  call: 'cacheMiddleware()',
  example: "cacheMiddleware([{ path: '/api/*', ttl: '1m' }]) or cacheMiddleware({ rules: [...] })",
  lone: 'wrap it in an array: cacheMiddleware([rule])',
}

/**
 * What an adapter's call was given, checked before anything else: rules or
 * options with `rules`, not nothing, and not one rule on its own.
 */
export function checkMiddlewareInput(input: unknown, how: RulesCall = MIDDLEWARE_CALL): void {
  const path = loneRulePath(input)
  if (path !== undefined) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `${how.call} got a single rule (path ${JSON.stringify(path)}); ${how.lone}`,
    )
  }
  const given =
    typeof input !== 'object' || input === null
      ? describeValue(input)
      : !Array.isArray(input) && (input as { rules?: unknown }).rules === undefined
        ? `an object with keys ${JSON.stringify(Object.keys(input))}`
        : undefined
  if (given !== undefined) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `${how.call} needs rules: ${how.example}, got ${given}`,
    )
  }
}

function plainObject(option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(option, `expected an object, got ${describeValue(value)}`)
  }
  return value as Record<string, unknown>
}

/** Validates the options in one place and fills in the defaults. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const options = Array.isArray(input) ? { rules: input } : plainObject('options', input)
  checkKeys('', options, [
    'rules',
    'store',
    'defaults',
    'proxy',
    'namespace',
    'onInvalidationFailure',
    'coalesce',
    'breaker',
    'warm',
    'logger',
    'cdn',
  ])
  const store = plainObject('store', options.store)
  checkKeys('store.', store, ['l1', 'l2', 'l3'])
  const l1 = store.l1 === false ? false : plainObject('store.l1', store.l1)
  if (l1 !== false) checkKeys('store.l1.', l1, ['maxBytes', 'maxBytesPerTenant', 'maxTtl'])
  const l2 = store.l2 as RemoteTier | undefined
  if (
    l2 !== undefined &&
    (typeof l2 !== 'object' || l2 === null || typeof l2.read !== 'function')
  ) {
    fail('store.l2', `expected a shared tier such as redisTier(...), got ${describeValue(l2)}`)
  }
  let l1MaxTtlMs = 0
  if (l1 !== false && l1.maxTtl !== undefined) {
    const parsed = parseDuration(l1.maxTtl)
    if (typeof parsed === 'string') fail('store.l1.maxTtl', parsed)
    l1MaxTtlMs = parsed
  }
  // Checked as rule options are, with the same messages.
  const defaults = checkDefaults(plainObject('defaults', options.defaults))
  const proxy = resolveProxy(options.proxy)
  const namespace = options.namespace ?? 'cachet'
  if (typeof namespace !== 'string' || !/^[\w.-]{1,64}$/.test(namespace)) {
    fail(
      'namespace',
      `expected 1 to 64 letters, digits, "_", "-" or ".", got ${describeValue(namespace)}`,
    )
  }
  const onInvalidationFailure = options.onInvalidationFailure ?? 'reject'
  const failureProblem = invalidationFailureProblem(onInvalidationFailure)
  if (failureProblem !== undefined) fail('onInvalidationFailure', failureProblem)
  const coalesce = plainObject('coalesce', options.coalesce)
  checkKeys('coalesce.', coalesce, ['maxWaiters', 'maxWait'])
  const maxWaiters = coalesce.maxWaiters ?? 1000
  if (!Number.isSafeInteger(maxWaiters) || (maxWaiters as number) < 0) {
    fail(
      'coalesce.maxWaiters',
      `expected a whole number of 0 or more, got ${describeValue(maxWaiters)}`,
    )
  }
  const maxWaitMs = parseDuration(coalesce.maxWait ?? 10)
  if (typeof maxWaitMs === 'string') fail('coalesce.maxWait', maxWaitMs)
  if (maxWaitMs > MAX_TIMER_MS) {
    fail(
      'coalesce.maxWait',
      `expected at most ${MAX_TIMER_MS} ms (a Node timer's limit), got ${maxWaitMs} ms`,
    )
  }
  return {
    logger: resolveLogger(options.logger),
    breaker: resolveBreaker(plainObject('breaker', options.breaker)),
    warm: resolveWarm(plainObject('warm', options.warm)),
    rules: options.rules,
    l1:
      l1 === false
        ? false
        : {
            maxBytes: l1.maxBytes as MemoryTierOptions['maxBytes'],
            ...(l1.maxBytesPerTenant === undefined
              ? {}
              : {
                  maxBytesPerTenant: l1.maxBytesPerTenant as MemoryTierOptions['maxBytesPerTenant'],
                }),
          },
    l1MaxTtlMs,
    l2: withDiskTier(store.l3, l2),
    defaults,
    proxy,
    namespace,
    namespaceGiven: options.namespace !== undefined,
    onInvalidationFailure: onInvalidationFailure as InvalidationFailureMode,
    maxWaiters: maxWaiters as number,
    maxWaitMs,
    cdn: resolveCdn(options.cdn),
  }
}

function timerDuration(option: string, value: unknown): number {
  const ms = parseDuration(value)
  if (typeof ms === 'string') fail(option, ms)
  if (ms > MAX_TIMER_MS) fail(option, `expected at most ${MAX_TIMER_MS} ms, got ${ms} ms`)
  return ms
}

/** The default logger looks `console.warn` up at each message (so that it can be replaced). */
const CONSOLE_LOGGER: CacheLogger = { warn: (message) => console.warn(message) }

function resolveLogger(logger: unknown): CacheLogger | undefined {
  if (logger === undefined) return CONSOLE_LOGGER
  if (logger === false) return undefined
  if (
    typeof logger !== 'object' ||
    logger === null ||
    typeof (logger as { warn?: unknown }).warn !== 'function'
  ) {
    fail(
      'logger',
      `expected an object with a warn(message) method (console, a pino or winston logger) or false, got ${describeValue(logger)}`,
    )
  }
  const target = logger as CacheLogger
  // Called as a method: pino's and winston's warn need their \`this\`.
  return { warn: (message) => target.warn(message) }
}

function resolveWarm(warm: Record<string, unknown>): ResolvedOptions['warm'] {
  checkKeys('warm.', warm, ['track', 'save', 'ttl'])
  const track = warm.track ?? 0
  if (
    !Number.isSafeInteger(track) ||
    (track as number) < 0 ||
    (track as number) > MAX_TRACKED_PER_RULE
  ) {
    fail(
      'warm.track',
      `expected a whole number from 0 (off) to ${MAX_TRACKED_PER_RULE}, got ${describeValue(track)}`,
    )
  }
  const saveMs = timerDuration('warm.save', warm.save ?? '30s')
  if (saveMs < 100) fail('warm.save', `expected at least 100 ms, got ${saveMs} ms`)
  const ttlMs = parseDuration(warm.ttl ?? '7d')
  if (typeof ttlMs === 'string') fail('warm.ttl', ttlMs)
  if (ttlMs < 1000) fail('warm.ttl', `expected at least 1 second, got ${ttlMs} ms`)
  return { track: track as number, saveMs, ttlMs }
}

function resolveBreaker(breaker: Record<string, unknown>): BreakerOptions {
  checkKeys('breaker.', breaker, ['failures', 'cooldown', 'maxCooldown'])
  const failures = breaker.failures ?? 5
  if (!Number.isSafeInteger(failures) || (failures as number) < 1) {
    fail('breaker.failures', `expected a whole number of 1 or more, got ${describeValue(failures)}`)
  }
  const cooldownMs = timerDuration('breaker.cooldown', breaker.cooldown ?? '500ms')
  const maxCooldownMs = timerDuration('breaker.maxCooldown', breaker.maxCooldown ?? '5s')
  if (maxCooldownMs < cooldownMs) {
    fail(
      'breaker.maxCooldown',
      `expected at least breaker.cooldown (${cooldownMs} ms), got ${maxCooldownMs} ms`,
    )
  }
  return { failures: failures as number, cooldownMs, maxCooldownMs }
}
