import { randomBytes } from 'node:crypto'
import type { ResponseBypassReason } from '../http/storable'
import { withDeadline } from '../tiers/deadline'
import {
  decodeEnvelope,
  decodeEnvelopeFence,
  encodeEnvelope,
  expiredCopy,
  expiredSince,
} from '../tiers/envelope'
import type { RemoteFence, RemoteRead, StoredResponse } from '../tiers/remote-tier'
import type { KeyvFillLock } from './fill-lock'
import { type KeyvKeyspace, newVersion } from './keyspace'
import type { KeyvSettings, KeyvStore } from './options'
import { lastSeq, newBase, parseLog, patternsAfter, toSeq } from './pattern-log'

interface KeyvFence extends RemoteFence {
  readonly token: string
  readonly tags: readonly string[]
  readonly versions: readonly string[]
  /** The tags' expire records when the fill started ('' for none). */
  readonly expires: readonly string[]
  readonly patternSeq: number
}

type EntrySettings = Pick<KeyvSettings, 'readMs' | 'writeMs' | 'tagTtlMs'>

/** Runs `work` alone among the tier's invalidations (see `KeyvEntries`). */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>

/**
 * The entries of the Keyv tier: a read checks the entry against its tags'
 * versions and the pattern log, or hands out the fence of a fill (creating
 * missing tag records, and taking the fill lock); a write checks the fence,
 * then stores (not atomically: see keyv-tier.ts); an abandon releases the
 * lock and may leave the "could not be stored" marker.
 */
export class KeyvEntries {
  readonly #store: KeyvStore
  readonly #keys: () => KeyvKeyspace
  readonly #lock: KeyvFillLock
  readonly #opts: EntrySettings
  readonly #id = randomBytes(4).toString('hex')
  readonly #exclusive: Exclusive | undefined
  #tokens = 0

  /**
   * `keys`: the tier's keyspace, built once its prefix is known. `exclusive`
   * (a store only this process writes): runs the creation of missing records
   * one at a time with the invalidations, so that a version created for a
   * fill never lands over one an invalidation wrote meanwhile.
   */
  constructor(
    store: KeyvStore,
    keys: () => KeyvKeyspace,
    lock: KeyvFillLock,
    opts: EntrySettings,
    exclusive?: Exclusive,
  ) {
    this.#store = store
    this.#keys = keys
    this.#lock = lock
    this.#opts = opts
    this.#exclusive = exclusive
  }

  read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    return withDeadline('read', this.#opts.readMs, this.#read(key, tags, options))
  }

  async #read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    const k = this.#keys()
    const h = k.hash(key)
    const tagKeys = tags.map((t) => k.tag(t))
    const [raw, pseqRaw, markerRaw, lockRaw, ...records] = (await this.#store.get([
      k.entry(h),
      k.patternSeq,
      k.marker(h),
      k.lock(h),
      ...tagKeys,
      ...tags.map((t) => k.expiry(t)),
    ])) as unknown[]
    const current = records.slice(0, tags.length)
    const found = records.slice(tags.length).map((x) => (typeof x === 'string' ? x : ''))
    const pseq = toSeq(pseqRaw)
    if (!options.skipEntry && raw !== undefined && raw !== null) {
      const hit = await this.#validEntry(raw, tags, current, found, pseq)
      if (hit === 'corrupt') await this.#store.delete(k.entry(h)).catch(() => false)
      else if (hit !== undefined) return hit
    }
    // A miss: the fence records the versions now (creating missing tag records).
    const missing =
      current.some((v) => typeof v !== 'string' || v === '') ||
      found.some((x) => x === '') ||
      pseq === undefined
    const fence =
      missing && this.#exclusive !== undefined
        ? await this.#exclusive(async () => {
            // Read again, now that no invalidation runs: create only what is still missing.
            const again = (await this.#store.get([
              k.patternSeq,
              ...tagKeys,
              ...tags.map((t) => k.expiry(t)),
            ])) as unknown[]
            const records = again.slice(1)
            return this.#fenceRecords(
              tags,
              records.slice(0, tags.length),
              records.slice(tags.length).map((x) => (typeof x === 'string' ? x : '')),
              toSeq(again[0]),
            )
          })
        : await this.#fenceRecords(tags, current, found, pseq)
    const marker = typeof markerRaw === 'string' && markerRaw !== '' ? markerRaw : undefined
    let lock: 'acquired' | 'busy' | 'none' = 'none'
    const token = `${this.#id}:${++this.#tokens}`
    if (marker === undefined && options.lock) lock = await this.#lock.take(h, token, lockRaw)
    const result: KeyvFence = {
      lock: lock === 'acquired',
      token: lock === 'acquired' ? token : '',
      tags,
      ...fence,
    }
    return marker === undefined
      ? { kind: 'miss', fence: result, lock }
      : { kind: 'miss', fence: result, lock, marker: marker as ResponseBypassReason }
  }

  /** A fill's versions, expire records and pattern sequence, creating those missing. */
  async #fenceRecords(
    tags: readonly string[],
    current: readonly unknown[],
    found: readonly string[],
    known: number | undefined,
  ): Promise<{ versions: string[]; expires: string[]; patternSeq: number }> {
    const k = this.#keys()
    const tagKeys = tags.map((t) => k.tag(t))
    let pseq = known
    const versions = current.map((v) => (typeof v === 'string' && v !== '' ? v : undefined))
    const creating: Array<Promise<unknown>> = []
    const fenceVersions = versions.map((v, i) => {
      if (v !== undefined) return v
      const fresh = newVersion()
      creating.push(this.#store.set(tagKeys[i] as string, fresh, this.#opts.tagTtlMs))
      return fresh
    })
    // And the expire records, a baseline (`…@0`) where missing: one that
    // vanishes later never matches what an entry stored (it counts as expired).
    const expires = found.map((x, i) => {
      if (x !== '') return x
      const baseline = `${newVersion()}@0`
      const expiry = k.expiry(tags[i] as string)
      creating.push(this.#store.set(expiry, baseline, this.#opts.tagTtlMs))
      return baseline
    })
    if (pseq === undefined) {
      const log = parseLog(await this.#store.get(k.patternLog))
      pseq = log === undefined ? newBase() : lastSeq(log)
      creating.push(this.#store.set(k.patternSeq, pseq))
    }
    await Promise.all(creating)
    return { versions: fenceVersions, expires, patternSeq: pseq }
  }

  /** The hit, `undefined` when the entry is no longer valid, `'corrupt'` when unreadable. */
  async #validEntry(
    raw: unknown,
    tags: readonly string[],
    current: readonly unknown[],
    expires: readonly string[],
    pseq: number | undefined,
  ): Promise<RemoteRead | 'corrupt' | undefined> {
    const buf = typeof raw === 'string' ? Buffer.from(raw, 'base64') : undefined
    const meta = buf && decodeEnvelopeFence(buf)
    const stored = meta && buf && decodeEnvelope(buf)
    if (meta === undefined || stored === undefined) return 'corrupt'
    const response = expiredCopy(stored, expiredSince(expires, meta.x))
    if (meta.t.length !== tags.length) return undefined
    for (let i = 0; i < tags.length; i++)
      if (meta.t[i] !== tags[i] || meta.v[i] !== current[i]) return undefined
    if (pseq === undefined) return undefined
    if (meta.p === pseq) return { kind: 'hit', response, patternsSince: [] }
    const log = parseLog(await this.#store.get(this.#keys().patternLog))
    const since = log && patternsAfter(log, meta.p)
    // The patterns since this entry are no longer all known: a miss.
    return since === undefined ? undefined : { kind: 'hit', response, patternsSince: since }
  }

  write(key: string, response: StoredResponse, fence: RemoteFence): Promise<boolean> {
    return withDeadline('write', this.#opts.writeMs, this.#write(key, response, fence as KeyvFence))
  }

  async #write(key: string, response: StoredResponse, fence: KeyvFence): Promise<boolean> {
    const k = this.#keys()
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
      // Not atomic with the check above (see the top of keyv-tier.ts).
      const envelope = encodeEnvelope(response, fence.versions, fence.patternSeq, '', fence.expires)
      const stored = await this.#store.set(k.entry(h), envelope.toString('base64'), Math.ceil(px))
      if (stored) await this.#store.delete(k.marker(h))
      return stored
    } finally {
      await this.#lock.release(h, fence.token)
    }
  }

  abandon(
    key: string,
    remote: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    const fence = remote as KeyvFence
    if (fence.token === '' && marker === undefined) return Promise.resolve()
    const h = this.#keys().hash(key)
    return withDeadline(
      'abandon',
      this.#opts.writeMs,
      (async () => {
        await this.#lock.release(h, fence.token)
        if (marker !== undefined && marker.ms > 0)
          await this.#store.set(this.#keys().marker(h), marker.reason, Math.ceil(marker.ms))
      })(),
    )
  }
}
