import { debuglog } from 'node:util'
import type { ResponseBypassReason } from '../http/storable'
import type { InvalidationPlan } from '../invalidation/local-state'
import { withDeadline } from '../tiers/deadline'
import type {
  CoherenceHooks,
  DiskStats,
  RemoteFence,
  RemoteRead,
  RemoteTier,
  StoredResponse,
  TierScope,
} from '../tiers/remote-tier'
import type { DiskStore } from './disk-store'

const debug = debuglog('cachet')

/** Longest a disk read may take before the miss goes on without it. */
const READ_MS = 250

/**
 * `store.l3` below a shared tier (issue #19): L1 memory → L2 Redis → L3 disk.
 *
 * - **Write-behind.** Every response the shared tier accepted (its fence held)
 *   is also written to disk, sealed with that fence (`RemoteTier.seal`), in
 *   the background: a request never waits on the disk to be answered.
 * - **Read on a shared miss.** When the shared tier has no entry for a key,
 *   the copy on disk is served only if the shared tier's `unseal` accepts it
 *   under the miss's own fence: the same keyspace epoch, the same versions of
 *   every tag, no path-pattern invalidation since, the expire records
 *   applied. So a copy is never served after an invalidation any process made
 *   of it while it sat on disk, and the check costs no round trip (the
 *   miss's reply carries the fence).
 * - **Promoted upward.** A copy served goes back into the shared tier under
 *   that fence (which also releases the fill lock the miss may hold), and so
 *   into the memory tier as any shared hit does.
 * - A copy refused is deleted. A disk that fails or is slow (past 250 ms)
 *   only costs the miss it could have saved.
 * - With the shared tier unreachable nothing is read from disk: its
 *   versions cannot be checked.
 */
export class DiskLayer implements RemoteTier {
  readonly #inner: RemoteTier
  readonly #disk: DiskStore
  readonly #pending = new Set<Promise<unknown>>()
  readonly #counts = { hits: 0, refused: 0, writes: 0, errors: 0 }
  readonly seal: NonNullable<RemoteTier['seal']>
  readonly unseal: NonNullable<RemoteTier['unseal']>
  #namespace = 'cachet'

  constructor(inner: RemoteTier, disk: DiskStore) {
    if (inner.seal === undefined || inner.unseal === undefined)
      throw new TypeError(`the ${inner.name} tier cannot seal copies for a disk tier`)
    this.#inner = inner
    this.#disk = disk
    this.seal = inner.seal.bind(inner)
    this.unseal = inner.unseal.bind(inner)
    // Warming's shared top-URL list, where the shared tier keeps one.
    const top = inner as { saveTopUrls?: unknown; loadTopUrls?: unknown }
    if (typeof top.saveTopUrls === 'function' && typeof top.loadTopUrls === 'function') {
      Object.assign(this, {
        saveTopUrls: top.saveTopUrls.bind(inner),
        loadTopUrls: top.loadTopUrls.bind(inner),
      })
    }
  }

  get name(): string {
    return this.#inner.name
  }

  get coherent(): boolean {
    return this.#inner.coherent
  }

  get location(): string | undefined {
    return this.#inner.location
  }

  causeOf(error: Error): string {
    return this.#inner.causeOf?.(error) ?? error.message
  }

  attach(scope: TierScope): void {
    this.#namespace = scope.namespace
    this.#inner.attach?.(scope)
  }

  trusted(): boolean {
    return this.#inner.trusted()
  }

  diskStats(): DiskStats {
    return {
      store: this.#disk.kind,
      below: true,
      entries: this.#disk.size,
      bytes: this.#disk.bytes,
      maxBytes: this.#disk.maxBytes,
      counts: { ...this.#counts },
    }
  }

  /** Resolves once every disk write started so far has ended (tests, `close()`). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  /**
   * The shared tier first: a disk that cannot be opened (its directory held
   * by another process) rejects `start()` with its reason, but the shared
   * tier serves on, and every disk call after it fails (a miss).
   */
  async start(hooks: CoherenceHooks): Promise<void> {
    await this.#inner.start(hooks)
    await this.#disk.open()
  }

  async close(): Promise<void> {
    await this.#inner.close()
    await this.settled()
    await this.#disk.close()
  }

  async read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    const read = await this.#inner.read(key, tags, options)
    // A marker: the origin's latest answer for this key could not be stored
    // (`no-store`, too large...); an older copy does not override it.
    if (read.kind === 'hit' || options.skipEntry === true || read.marker !== undefined) return read
    const diskKey = this.#diskKey(key)
    let sealed: Buffer | undefined
    try {
      sealed = await withDeadline('disk read', READ_MS, this.#disk.get(diskKey))
    } catch (err) {
      this.#failed('read', err)
      return read
    }
    if (sealed === undefined) return read
    const response = this.unseal(sealed, read.fence)
    if (response === undefined) {
      this.#counts.refused++
      this.#track(this.#disk.delete(diskKey), 'delete')
      return read
    }
    // Back into the shared tier under the miss's fence (which releases its lock).
    const promoted = await this.#inner.write(key, response, read.fence).catch((err) => {
      this.#failed('promote', err)
      return false
    })
    if (!promoted) {
      // Fenced out meanwhile (an invalidation, a new epoch): ask again.
      return this.#inner.read(key, tags, options)
    }
    this.#counts.hits++
    return { kind: 'hit', response, patternsSince: [] }
  }

  async write(key: string, response: StoredResponse, fence: RemoteFence): Promise<boolean> {
    const stored = await this.#inner.write(key, response, fence)
    const ttl = response.deleteAt - Date.now()
    const diskKey = this.#diskKey(key)
    if (stored && ttl > 0) {
      const sealed = this.seal(response, fence)
      this.#track(
        this.#disk.set(diskKey, sealed, ttl).then((ok) => {
          if (ok) this.#counts.writes++
          // Too large for the disk: the older copy must not outlive it.
          else return this.#disk.delete(diskKey)
        }),
        'write',
      )
    } else {
      // Not stored (fenced out), or a copy meant to go at once (a dropped
      // one): the copy on disk is older than what replaced it, and goes too.
      this.#track(this.#disk.delete(diskKey), 'delete')
    }
    return stored
  }

  abandon(
    key: string,
    fence: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    // The origin's latest answer may not be stored (`no-store`...): an older
    // copy must not come back once the marker is gone.
    if (marker !== undefined) this.#track(this.#disk.delete(this.#diskKey(key)), 'delete')
    return this.#inner.abandon(key, fence, marker)
  }

  /**
   * The copies on disk are checked against the shared tier's versions when
   * read, so an invalidation needs nothing of the disk: O(1) as before.
   */
  invalidate(plan: InvalidationPlan): Promise<void> {
    return this.#inner.invalidate(plan)
  }

  #diskKey(key: string): string {
    return `${this.#namespace}:${key}`
  }

  #track(work: Promise<unknown>, operation: string): void {
    const p = work.catch((err) => this.#failed(operation, err))
    this.#pending.add(p)
    p.finally(() => this.#pending.delete(p))
  }

  #failed(operation: string, err: unknown): void {
    this.#counts.errors++
    debug('disk %s failed: %s', operation, (err as Error).message)
  }
}
