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
import { CachetInvalidationError } from '../errors'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import { withDeadline } from '../tiers/deadline'
import type {
  DiskStats,
  RemoteFence,
  RemoteRead,
  RemoteTier,
  StoredResponse,
} from '../tiers/remote-tier'
import { TierPrefix, type TierScope } from '../tiers/tier-prefix'
import { type Exclusive, KeyvEntries } from './entries'
import { KeyvFillLock } from './fill-lock'
import { KeyvKeyspace, newVersion } from './keyspace'
import { type KeyvSettings, type KeyvStore, type KeyvTierOptions, keyvSettings } from './options'
import { appendPatterns } from './pattern-log'

export type { KeyvStore, KeyvTierOptions } from './options'

/**
 * The disk tier as the shared tier (`store.l3` without `l2`). A directory
 * this process holds the lock of is written by no other: every invalidation
 * passes through this process, so the memory tier above it is coherent
 * (`coherent`), and the fill lock is exact. A Keyv store may be shared with
 * other processes: not coherent, as the Keyv tier.
 */
export interface OwnedKeyvStore {
  readonly name: string
  /** Whether only this process can write it (a directory it holds the lock of). */
  readonly coherent: boolean
  /**
   * The store could not be opened, for good: nothing was or will be read
   * from it, so an invalidation has nothing to record there.
   */
  unusable(): boolean
  open(): Promise<void>
  close(): Promise<void>
  stats(): DiskStats
}

/**
 * The Keyv shared tier: `store: { l1: { maxTtl: '5s' }, l2: keyvTier({ store: keyv }) }`.
 * Its entries (entries.ts), fill lock (fill-lock.ts) and pattern log
 * (pattern-log.ts) each have their own module.
 */
export class KeyvTier implements RemoteTier {
  readonly name: string
  /** Only as the disk tier of one process (`store.l3` without `l2`): see `OwnedKeyvStore`. */
  readonly coherent: boolean
  readonly #owned: OwnedKeyvStore | undefined
  readonly #store: KeyvStore
  readonly #prefix: TierPrefix
  readonly #settings: KeyvSettings
  /** Built on first use, once the prefix is known (it may come from `attach()`). */
  #keyspace: KeyvKeyspace | undefined
  readonly #entries: KeyvEntries
  #invalidations: Promise<unknown> = Promise.resolve()

  constructor(options: KeyvTierOptions, owned?: OwnedKeyvStore) {
    this.#settings = keyvSettings(options, owned !== undefined)
    this.#owned = owned
    this.name = owned?.name ?? 'keyv'
    this.coherent = owned?.coherent ?? false
    this.#prefix = new TierPrefix('keyvTier', this.#settings.prefix)
    this.#store = this.#settings.store
    const keys = () => this.#keys
    const lock = new KeyvFillLock(this.#store, keys, this.#settings.lockMs)
    // Only this process writes an owned directory: creating a missing record
    // and an invalidation can be made to take turns, closing the Keyv race.
    const exclusive: Exclusive | undefined = this.coherent
      ? (work) => {
          const run = this.#invalidations.then(work)
          this.#invalidations = run.catch(() => {})
          return run
        }
      : undefined
    this.#entries = new KeyvEntries(this.#store, keys, lock, this.#settings, exclusive)
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

  /** No bus: nothing to join (an owned store is opened: its directory's lock). */
  async start(): Promise<void> {
    await this.#owned?.open()
  }

  /** The Keyv belongs to the caller: it stays open (an owned store is closed). */
  async close(): Promise<void> {
    await this.#owned?.close()
  }

  diskStats(): DiskStats | undefined {
    return this.#owned?.stats()
  }

  read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    return this.#entries.read(key, tags, options)
  }

  write(key: string, response: StoredResponse, fence: RemoteFence): Promise<boolean> {
    return this.#entries.write(key, response, fence)
  }

  abandon(
    key: string,
    remote: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    return this.#entries.abandon(key, remote, marker)
  }

  /** Durable once the store's `set` resolved `true` for every record; one at a time in this process. */
  invalidate(plan: InvalidationPlan): Promise<void> {
    if (this.#owned?.unusable() === true) return Promise.resolve()
    const run = this.#invalidations.then(() =>
      withDeadline('invalidate', this.#settings.invalidateMs, this.#invalidate(plan)),
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
    // An expire writes the tags' expire records instead (`<version>@<ms>`).
    const results = await Promise.all(
      plan.tags.map((t) =>
        plan.expire === true
          ? this.#store.set(k.expiry(t), `${newVersion()}@${Date.now()}`, this.#settings.tagTtlMs)
          : this.#store.set(k.tag(t), newVersion(), this.#settings.tagTtlMs),
      ),
    )
    if (results.includes(false)) throw new Error('the store did not accept a tag version')
    if (plan.patterns.length > 0)
      await appendPatterns(this.#store, k, plan.patterns, this.#settings.patternLogSize)
  }
}

/** The Keyv shared tier: `store: { l1: { maxTtl: '5s' }, l2: keyvTier({ store: new Keyv(...) }) }`. */
export function keyvTier(options: KeyvTierOptions): KeyvTier {
  return new KeyvTier(options)
}
