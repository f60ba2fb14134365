/**
 * A shared tier on any Keyv store (`@keyv/redis`, `@keyv/postgres`, sqlite,
 * an in-memory `new Keyv()`...). Same data as the Redis tier: the entry in
 * the binary envelope with its TTL (`deleteAt - now`), a random version per
 * tag (`<prefix>:t:<tag>`; a missing record counts as invalidated, and a read
 * that finds none creates one), the pattern sequence and log, a fill lock and
 * the "could not be stored" marker.
 *
 * What this tier cannot promise that the Redis tier does:
 *
 * - **No atomic fence.** Keyv has no scripts and no compare-and-set, so a
 *   write checks the fill's tag versions and pattern sequence, then sets the
 *   entry, in separate round trips: an invalidation can land between the two.
 *   The entry then stored carries the versions read when the fill started, so
 *   every later read of it is a miss (validity is checked again on read); but
 *   the write reports `true`, so this process hands that response to the
 *   requests waiting on the fill and keeps it in its memory tier (for at most
 *   `store.l1.maxTtl`), although another process invalidated it meanwhile.
 * - **No cross-process bus** (`coherent = false`). Another process's memory
 *   tier never hears of an invalidation made here: its entries are bounded
 *   only by `store.l1.maxTtl`. With `l2: keyvTier(...)` the engine keeps no
 *   memory entries at all unless `store.l1.maxTtl` is set.
 * - **Best-effort fill lock.** "Set if absent" is a get, a set and a get to
 *   check: two processes can both get the lock (both call the origin; nothing
 *   wrong is stored). Within one process the lock is exact (a local table), and
 *   releasing checks the token before deleting, again without atomicity.
 * - **Pattern log by read-modify-write.** Tag invalidations are blind writes of
 *   fresh random versions and never lose each other. Pattern invalidations
 *   append to one log record: two processes appending within one round trip of
 *   each other can lose one (each re-reads its append and repairs it when it is
 *   missing, which narrows the window but cannot close it). Within one process
 *   invalidations run one at a time. Sequence numbers grow by random steps, so
 *   an entry whose sequence is not in the log (a lost or reborn log) is a miss.
 * - **Tag records are never extended** (re-setting a version could undo a
 *   concurrent invalidation). A tag record lives `tagTtl` from its creation or
 *   last invalidation, then every entry carrying it is a miss once: keep
 *   `tagTtl` well above the longest rule `ttl`.
 * - **Store errors look like missing records** unless the Keyv throws them
 *   (Keyv 5: `throwOnErrors: true`; Keyv 6: no `'error'` listener): Keyv's
 *   `get` then answers `undefined` on an error. A
 *   missing record counts as invalidated, so that is a spurious miss, never a
 *   stale hit. An invalidation whose `set` fails (or answers `false`) rejects.
 *   The pattern records are written without a TTL; a Keyv with a default `ttl`
 *   lets them expire, which again only costs misses.
 *
 * Body bytes: the envelope is stored as a base64 string. Keyv's default
 * serializer (`@keyv/serialize`) does round-trip a Buffer byte-exact (it
 * writes `:base64:` itself, at the same size), but a custom `serialize`
 * (`JSON.stringify` turns a Buffer into an array of numbers), a store without
 * serialization or a compression adapter may not; a string survives them all.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { CachetInvalidationError, describeValue } from '../errors'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import { withDeadline } from '../tiers/deadline'
import { decodeEnvelope, decodeEnvelopeFence, encodeEnvelope } from '../tiers/envelope'
import { TierKeyspace } from '../tiers/keyspace'
import type { RemoteFence, RemoteRead, RemoteTier, StoredResponse } from '../tiers/remote-tier'
import { TierOptionChecker } from '../tiers/tier-options'
import { TierPrefix, type TierScope } from '../tiers/tier-prefix'

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
  /** Lifetime of a tag's version record (never extended; see above). Default `'1d'`. */
  tagTtl?: number | string
  /** Deadlines: `read` (default 250 ms: several round trips), `write` (1 s), `invalidate` (2 s). */
  timeouts?: { read?: number | string; write?: number | string; invalidate?: number | string }
  /** Pattern invalidations kept; entries older than the oldest are misses. Default 1000. */
  patternLogSize?: number
}

interface KeyvFence extends RemoteFence {
  readonly token: string
  readonly tags: readonly string[]
  readonly versions: readonly string[]
  readonly patternSeq: number
}

/** `<prefix>:plog`: the sequence just before the first item, then `[sequence, pattern]` pairs. */
interface PatternLogRecord {
  from: number
  items: Array<[number, string]>
}

/**
 * The records under one prefix, as the Redis tier names them but without its
 * Cluster hash tag: `<prefix>:e:<hash>` (entry), `:l:` (lock), `:m:` (marker),
 * `<prefix>:t:<tag>`, `<prefix>:pseq`, `<prefix>:plog`. Entry, lock and marker
 * use a SHA-256 of the engine's key (long, and it can hold user ids).
 */
export class KeyvKeyspace extends TierKeyspace {
  readonly patternSeq: string

  constructor(prefix: string) {
    super(prefix)
    this.patternSeq = `${prefix}:pseq`
  }
}

// Annotated so that `check.fail()` narrows like a `never` call.
const check: TierOptionChecker = new TierOptionChecker('keyvTier')

const newVersion = () => randomBytes(8).toString('hex')
/** A fresh log starts at a random sequence, so no entry of an older log can match it. */
const newBase = () => randomInt(0, 2 ** 40)
const step = () => randomInt(1, 65_537)

function toSeq(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined
}

function parseLog(value: unknown): PatternLogRecord | undefined {
  if (typeof value !== 'string') return undefined
  try {
    const log = JSON.parse(value) as PatternLogRecord
    if (toSeq(log.from) === undefined || !Array.isArray(log.items)) return undefined
    return log
  } catch {
    return undefined
  }
}

const lastSeq = (log: PatternLogRecord) => log.items.at(-1)?.[0] ?? log.from

/** The patterns logged after `seq`; `undefined` when `seq` is not in the log (not all known). */
function patternsAfter(log: PatternLogRecord, seq: number): string[] | undefined {
  if (seq !== log.from && !log.items.some((item) => item[0] === seq)) return undefined
  return log.items.filter((item) => item[0] > seq).map((item) => item[1])
}

/** The Keyv shared tier: `store: { l1: { maxTtl: '5s' }, l2: keyvTier({ store: keyv }) }`. */
export class KeyvTier implements RemoteTier {
  readonly name = 'keyv'
  readonly coherent = false
  readonly #store: KeyvStore
  readonly #prefix: TierPrefix
  /** Built on first use, once the prefix is known (it may come from `attach()`). */
  #keyspace: KeyvKeyspace | undefined
  readonly #lockMs: number
  readonly #tagTtlMs: number
  readonly #readMs: number
  readonly #writeMs: number
  readonly #invalidateMs: number
  readonly #patternLogSize: number
  /** Fill locks this process holds or is taking: exact within the process. */
  readonly #locks = new Map<string, { token: string; until: number }>()
  readonly #id = randomBytes(4).toString('hex')
  #tokens = 0
  #invalidations: Promise<unknown> = Promise.resolve()

  constructor(options: KeyvTierOptions) {
    if (typeof options !== 'object' || options === null)
      check.fail('options', `expected an object, got ${describeValue(options)}`)
    const known = ['store', 'prefix', 'lockTtl', 'tagTtl', 'timeouts', 'patternLogSize']
    for (const k of Object.keys(options))
      if (!known.includes(k)) check.fail(k, `unknown option (expected one of ${known.join(', ')})`)
    // A Keyv, not a bare store adapter or Map: the tier relies on Keyv's
    // serialization, TTLs and `get([...keys])`. Keyv 5 has `opts`, Keyv 6
    // `getRaw` (which no storage adapter has; both have `hooks`).
    const store = options.store as
      | (Partial<KeyvStore> & { hooks?: unknown; opts?: unknown; getRaw?: unknown })
      | undefined
    if (
      typeof store !== 'object' ||
      store === null ||
      typeof store.get !== 'function' ||
      typeof store.set !== 'function' ||
      typeof store.delete !== 'function' ||
      typeof store.hooks !== 'object' ||
      (typeof store.opts !== 'object' && typeof store.getRaw !== 'function')
    ) {
      check.fail('store', `expected a Keyv instance (new Keyv(...)), got ${describeValue(store)}`)
    }
    this.#prefix = new TierPrefix(
      'keyvTier',
      options.prefix === undefined ? undefined : check.prefix(options.prefix),
    )
    this.#lockMs = check.duration('lockTtl', options.lockTtl, '5s')
    this.#tagTtlMs = check.duration('tagTtl', options.tagTtl, '1d', false)
    this.#readMs = check.duration('timeouts.read', options.timeouts?.read, '250ms')
    this.#writeMs = check.duration('timeouts.write', options.timeouts?.write, '1s')
    this.#invalidateMs = check.duration('timeouts.invalidate', options.timeouts?.invalidate, '2s')
    this.#patternLogSize = check.count('patternLogSize', options.patternLogSize, 1000)
    this.#store = options.store
  }

  /** Takes the engine's namespace as the prefix, unless the tier has its own (see `TierPrefix`). */
  attach(scope: TierScope): void {
    this.#prefix.attach(scope)
  }

  /** The prefix of every key this tier writes (fixed from the first call on). */
  get prefix(): string {
    return this.#prefix.value
  }

  get #keys(): KeyvKeyspace {
    this.#keyspace ??= new KeyvKeyspace(this.#prefix.value)
    return this.#keyspace
  }

  trusted(): boolean {
    return true
  }

  /** No bus: nothing to join. */
  async start(): Promise<void> {}

  /** The Keyv belongs to the caller: it stays open. */
  async close(): Promise<void> {}

  read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    return withDeadline('read', this.#readMs, this.#read(key, tags, options))
  }

  async #read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    const k = this.#keys
    const h = k.hash(key)
    const tagKeys = tags.map((t) => k.tag(t))
    const [raw, pseqRaw, markerRaw, lockRaw, ...current] = (await this.#store.get([
      k.entry(h),
      k.patternSeq,
      k.marker(h),
      k.lock(h),
      ...tagKeys,
    ])) as unknown[]
    let pseq = toSeq(pseqRaw)
    if (!options.skipEntry && raw !== undefined && raw !== null) {
      const hit = await this.#validEntry(raw, tags, current, pseq)
      if (hit === 'corrupt') await this.#store.delete(k.entry(h)).catch(() => false)
      else if (hit !== undefined) return hit
    }
    // A miss: the fence records the versions now (creating missing tag records).
    const versions = current.map((v) => (typeof v === 'string' && v !== '' ? v : undefined))
    const creating: Array<Promise<unknown>> = []
    const fenceVersions = versions.map((v, i) => {
      if (v !== undefined) return v
      const fresh = newVersion()
      creating.push(this.#store.set(tagKeys[i] as string, fresh, this.#tagTtlMs))
      return fresh
    })
    if (pseq === undefined) {
      const log = parseLog(await this.#store.get(k.patternLog))
      pseq = log === undefined ? newBase() : lastSeq(log)
      creating.push(this.#store.set(k.patternSeq, pseq))
    }
    await Promise.all(creating)
    const marker = typeof markerRaw === 'string' && markerRaw !== '' ? markerRaw : undefined
    let lock: 'acquired' | 'busy' | 'none' = 'none'
    const token = `${this.#id}:${++this.#tokens}`
    if (marker === undefined && options.lock) lock = await this.#lock(h, token, lockRaw)
    const fence: KeyvFence = {
      lock: lock === 'acquired',
      token: lock === 'acquired' ? token : '',
      tags,
      versions: fenceVersions,
      patternSeq: pseq,
    }
    return marker === undefined
      ? { kind: 'miss', fence, lock }
      : { kind: 'miss', fence, lock, marker: marker as ResponseBypassReason }
  }

  /** The hit, `undefined` when the entry is no longer valid, `'corrupt'` when unreadable. */
  async #validEntry(
    raw: unknown,
    tags: readonly string[],
    current: readonly unknown[],
    pseq: number | undefined,
  ): Promise<RemoteRead | 'corrupt' | undefined> {
    const buf = typeof raw === 'string' ? Buffer.from(raw, 'base64') : undefined
    const meta = buf && decodeEnvelopeFence(buf)
    const response = meta && buf && decodeEnvelope(buf)
    if (meta === undefined || response === undefined) return 'corrupt'
    if (meta.t.length !== tags.length) return undefined
    for (let i = 0; i < tags.length; i++)
      if (meta.t[i] !== tags[i] || meta.v[i] !== current[i]) return undefined
    if (pseq === undefined) return undefined
    if (meta.p === pseq) return { kind: 'hit', response, patternsSince: [] }
    const log = parseLog(await this.#store.get(this.#keys.patternLog))
    const since = log && patternsAfter(log, meta.p)
    // The patterns since this entry are no longer all known: a miss.
    return since === undefined ? undefined : { kind: 'hit', response, patternsSince: since }
  }

  /** Set-if-absent without atomicity: exact in this process, best effort across processes. */
  async #lock(h: string, token: string, seen: unknown): Promise<'acquired' | 'busy' | 'none'> {
    const now = Date.now()
    const local = this.#locks.get(h)
    if ((local !== undefined && local.until > now) || typeof seen === 'string') return 'busy'
    if (this.#locks.size >= 1000)
      for (const [key, l] of this.#locks) if (l.until <= now) this.#locks.delete(key)
    this.#locks.set(h, { token, until: now + this.#lockMs })
    const lockKey = this.#keys.lock(h)
    await this.#store.set(lockKey, token, this.#lockMs)
    const holder = await this.#store.get(lockKey)
    if (holder === token) return 'acquired'
    if (this.#locks.get(h)?.token === token) this.#locks.delete(h)
    // Someone else's token: busy. Nothing readable (a failing store): go on without a lock.
    return typeof holder === 'string' ? 'busy' : 'none'
  }

  async #unlock(h: string, token: string): Promise<void> {
    if (token === '') return
    if (this.#locks.get(h)?.token === token) this.#locks.delete(h)
    const lockKey = this.#keys.lock(h)
    if ((await this.#store.get(lockKey)) === token) await this.#store.delete(lockKey)
  }

  write(key: string, response: StoredResponse, fence: RemoteFence): Promise<boolean> {
    return withDeadline('write', this.#writeMs, this.#write(key, response, fence as KeyvFence))
  }

  async #write(key: string, response: StoredResponse, fence: KeyvFence): Promise<boolean> {
    const k = this.#keys
    const h = k.hash(key)
    try {
      const px = response.deleteAt - Date.now()
      if (px <= 0) return false
      const [pseq, ...current] = (await this.#store.get([
        k.patternSeq,
        ...fence.tags.map((t) => k.tag(t)),
      ])) as unknown[]
      if (toSeq(pseq) !== fence.patternSeq) return false
      for (let i = 0; i < fence.versions.length; i++)
        if (current[i] !== fence.versions[i]) return false
      // Not atomic with the check above (see the top of this file).
      const envelope = encodeEnvelope(response, fence.versions, fence.patternSeq)
      const stored = await this.#store.set(k.entry(h), envelope.toString('base64'), Math.ceil(px))
      if (stored) await this.#store.delete(k.marker(h))
      return stored
    } finally {
      await this.#unlock(h, fence.token)
    }
  }

  abandon(
    key: string,
    remote: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    const fence = remote as KeyvFence
    if (fence.token === '' && marker === undefined) return Promise.resolve()
    const h = this.#keys.hash(key)
    return withDeadline(
      'abandon',
      this.#writeMs,
      (async () => {
        await this.#unlock(h, fence.token)
        if (marker !== undefined && marker.ms > 0)
          await this.#store.set(this.#keys.marker(h), marker.reason, Math.ceil(marker.ms))
      })(),
    )
  }

  /** Durable once the store's `set` resolved `true` for every record; one at a time in this process. */
  invalidate(plan: InvalidationPlan): Promise<void> {
    const run = this.#invalidations.then(() =>
      withDeadline('invalidate', this.#invalidateMs, this.#invalidate(plan)),
    )
    this.#invalidations = run.catch(() => {})
    return run.catch((err: Error) => {
      throw new CachetInvalidationError(
        'CACHET_INVALIDATION_FAILED',
        `invalidate(): could not record the invalidation in the Keyv store: ${err.message}`,
        { cause: err },
      )
    })
  }

  async #invalidate(plan: InvalidationPlan): Promise<void> {
    const k = this.#keys
    // Blind writes of fresh versions: concurrent invalidations cannot undo each other.
    const results = await Promise.all(
      plan.tags.map((t) => this.#store.set(k.tag(t), newVersion(), this.#tagTtlMs)),
    )
    if (results.includes(false)) throw new Error('the store did not accept a tag version')
    if (plan.patterns.length > 0) await this.#appendPatterns(plan.patterns)
  }

  async #appendPatterns(patterns: readonly string[]): Promise<void> {
    const k = this.#keys
    for (let attempt = 0; attempt < 3; attempt++) {
      const [pseqRaw, logRaw] = (await this.#store.get([k.patternSeq, k.patternLog])) as unknown[]
      const log = parseLog(logRaw) ?? { from: toSeq(pseqRaw) ?? newBase(), items: [] }
      let seq = lastSeq(log)
      const items = [...log.items]
      for (const p of patterns) {
        seq += step()
        items.push([seq, p])
      }
      const dropped = items.length - this.#patternLogSize
      const next: PatternLogRecord = {
        from: dropped > 0 ? (items[dropped - 1] as [number, string])[0] : log.from,
        items: dropped > 0 ? items.slice(dropped) : items,
      }
      // The log first: a reader that sees the new sequence finds it in the log.
      if (!(await this.#store.set(k.patternLog, JSON.stringify(next))))
        throw new Error('the store did not accept the pattern log')
      if (!(await this.#store.set(k.patternSeq, seq)))
        throw new Error('the store did not accept the pattern sequence')
      // Another process may have rewritten the log from the same old copy: check, repair.
      const back = parseLog(await this.#store.get(k.patternLog))
      if (back?.items.some((item) => item[0] === seq && item[1] === patterns.at(-1))) return
    }
    throw new Error('the pattern log kept being overwritten by concurrent invalidations')
  }
}

/** The Keyv shared tier: `store: { l1: { maxTtl: '5s' }, l2: keyvTier({ store: new Keyv(...) }) }`. */
export function keyvTier(options: KeyvTierOptions): KeyvTier {
  return new KeyvTier(options)
}
