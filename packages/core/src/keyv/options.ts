import { describeValue } from '../errors'
import { TierOptionChecker } from '../tiers/tier-options'

/**
 * What the tier uses of a Keyv instance, Keyv 5 or 6: the two majors'
 * classes do not type-check against each other, so the option is typed by
 * the calls made (`get` of one key or of a list, `set` with a TTL in ms,
 * `delete`). At run time it must be a `Keyv`, not a bare storage adapter.
 */
export interface KeyvStore {
  get(key: string): Promise<unknown>
  get(keys: string[]): Promise<unknown[]>
  set(key: string, value: string | number, ttl?: number): Promise<boolean>
  delete(key: string): Promise<boolean>
}

export interface KeyvTierOptions {
  /** Any Keyv instance (Keyv 5 or 6: `new Keyv(...)`); cachet never closes it. */
  store: KeyvStore
  /**
   * Prefix of every key cachet writes (inside Keyv's own namespace): entries,
   * tag versions, the pattern log, locks. Default: the cache's `namespace`,
   * itself `'cachet'` by default; a different explicit `namespace` is refused.
   */
  prefix?: string
  /** Lifetime of the fill lock. Default `'5s'`. */
  lockTtl?: number | string
  /** Lifetime of a tag's version record (never extended; see keyv-tier.ts). Default `'1d'`. */
  tagTtl?: number | string
  /** Deadlines: `read` (default 250 ms: several round trips), `write` (1 s), `invalidate` (2 s). */
  timeouts?: { read?: number | string; write?: number | string; invalidate?: number | string }
  /** Pattern invalidations kept; entries older than the oldest are misses. Default 1000. */
  patternLogSize?: number
}

/** The tier's options, checked, in milliseconds. */
export interface KeyvSettings {
  readonly store: KeyvStore
  /** The `prefix` option, if given (else the engine's namespace: see `TierPrefix`). */
  readonly prefix: string | undefined
  readonly lockMs: number
  readonly tagTtlMs: number
  readonly readMs: number
  readonly writeMs: number
  readonly invalidateMs: number
  readonly patternLogSize: number
}

// Annotated so that `check.fail()` narrows like a `never` call.
const check: TierOptionChecker = new TierOptionChecker('keyvTier')

const KNOWN = ['store', 'prefix', 'lockTtl', 'tagTtl', 'timeouts', 'patternLogSize']

/** `keyvTier()`'s argument, checked (a refusal is a `CachetConfigError` naming the option). */
export function keyvSettings(options: KeyvTierOptions, storeChecked = false): KeyvSettings {
  if (typeof options !== 'object' || options === null)
    check.fail('options', `expected an object, got ${describeValue(options)}`)
  for (const k of Object.keys(options))
    if (!KNOWN.includes(k)) check.fail(k, `unknown option (expected one of ${KNOWN.join(', ')})`)
  // A Keyv, not a bare store adapter or Map: the tier relies on Keyv's
  // serialization, TTLs and `get([...keys])`. Keyv 5 has `opts`, Keyv 6
  // `getRaw` (which no storage adapter has; both have `hooks`).
  const store = options.store as
    | (Partial<KeyvStore> & { hooks?: unknown; opts?: unknown; getRaw?: unknown })
    | undefined
  if (
    !storeChecked &&
    (typeof store !== 'object' ||
      store === null ||
      typeof store.get !== 'function' ||
      typeof store.set !== 'function' ||
      typeof store.delete !== 'function' ||
      typeof store.hooks !== 'object' ||
      (typeof store.opts !== 'object' && typeof store.getRaw !== 'function'))
  ) {
    check.fail('store', `expected a Keyv instance (new Keyv(...)), got ${describeValue(store)}`)
  }
  return {
    prefix: options.prefix === undefined ? undefined : check.prefix(options.prefix),
    lockMs: check.duration('lockTtl', options.lockTtl, '5s'),
    tagTtlMs: check.duration('tagTtl', options.tagTtl, '1d', false),
    readMs: check.duration('timeouts.read', options.timeouts?.read, '250ms'),
    writeMs: check.duration('timeouts.write', options.timeouts?.write, '1s'),
    invalidateMs: check.duration('timeouts.invalidate', options.timeouts?.invalidate, '2s'),
    patternLogSize: check.count('patternLogSize', options.patternLogSize, 1000),
    store: options.store,
  }
}
