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
import type { RedisClients } from './clients'
import type { RedisClient, Scripts } from './commands'
import type { FillLocks } from './fill-locks'
import type { ShardLayout } from './layout'
import type { RedisSettings } from './options'

interface RedisFence extends RemoteFence {
  readonly token: string
  readonly tags: readonly string[]
  readonly versions: readonly string[]
  /** The tags' expire records when the fill started ('' for none). */
  readonly expires: readonly string[]
  readonly patternSeq: string
  /** The keyspace epoch the fence belongs to. */
  readonly epoch: string
}

type EntrySettings = Pick<RedisSettings, 'readMs' | 'writeMs' | 'lockMs' | 'tagTtlMs'>

/**
 * The entries of the Redis tier: a read checks the entry against its tags'
 * versions and the pattern log, or hands out the fence of a fill (and the
 * fill lock); a write stores the fill's response only if its fence holds; an
 * abandon releases the lock and may leave the "could not be stored" marker.
 * Each is one script on the entry's shard.
 */
export class RedisEntries {
  readonly #clients: RedisClients
  readonly #cmd: RedisClient & Scripts
  readonly #layout: ShardLayout
  readonly #locks: FillLocks
  readonly #opts: EntrySettings
  /** This process, in its lock tokens. */
  readonly #id: string
  #tokens = 0

  constructor(
    clients: RedisClients,
    layout: ShardLayout,
    locks: FillLocks,
    opts: EntrySettings,
    id: string,
  ) {
    this.#clients = clients
    this.#cmd = clients.cmd
    this.#layout = layout
    this.#locks = locks
    this.#opts = opts
    this.#id = id
  }

  async read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    if (!this.#clients.opened) await this.#clients.whenOpen(this.#opts.readMs)
    // Under the read's deadline (the check goes on in the background).
    if (this.#layout.shards.length > 1)
      await withDeadline('read', this.#opts.readMs, this.#layout.confirm())
    const [k, h] = this.#layout.locate(key)
    const token = options.lock ? `${this.#id}:${++this.#tokens}` : ''
    const reading = this.#cmd.cachetReadBuffer(
      5 + 2 * tags.length,
      k.entry(h),
      k.lock(h),
      k.marker(h),
      k.state,
      k.patternLog,
      ...tags.map((t) => k.tag(t)),
      ...tags.map((t) => k.expiry(t)),
      options.skipEntry ? '1' : '0',
      token,
      this.#opts.lockMs,
      this.#opts.tagTtlMs,
      randomBytes(8).toString('hex'),
      this.#layout.shards.length,
      ...tags,
    )
    let reply: Buffer[]
    try {
      reply = await withDeadline('read', this.#opts.readMs, reading)
    } catch (err) {
      // The read may run in Redis all the same (its reply late, or lost) and
      // take the fill lock for a fill that no longer counts on it. The release
      // goes once the read has answered or failed, never before it: on a
      // Cluster, a read redirected (MOVED, a slot refresh) can reach Redis
      // after a command sent later.
      if (token !== '') {
        const release = () => this.#locks.release(k, h, token)
        reading.then(release, release)
      }
      throw err
    }
    if (String(reply[0]) === 'hit') {
      const envelope = reply[1] as Buffer
      const response = decodeEnvelope(envelope)
      if (response !== undefined) {
        const n = Number(reply[2])
        const expiredAt = expiredSince(
          reply.slice(3, 3 + n).map(String),
          decodeEnvelopeFence(envelope)?.x,
        )
        return {
          kind: 'hit',
          response: expiredCopy(response, expiredAt),
          patternsSince: reply.slice(3 + n).map(String),
        }
      }
      // Readable to Lua but not to this version: corrupt. Delete, then miss.
      await withDeadline('delete', this.#opts.writeMs, this.#cmd.del(k.entry(h))).catch(() => {})
      return this.read(key, tags, { ...options, skipEntry: true })
    }
    const lock = String(reply[1]) as 'acquired' | 'busy' | 'none'
    if (lock === 'acquired') this.#locks.taken(k, h, token)
    const marker = String(reply[2])
    const fence: RedisFence = {
      lock: lock === 'acquired',
      token: lock === 'acquired' ? token : '',
      tags,
      versions: reply.slice(5, 5 + tags.length).map(String),
      expires: reply.slice(5 + tags.length).map(String),
      patternSeq: String(reply[3]),
      epoch: String(reply[4]),
    }
    return marker === ''
      ? { kind: 'miss', fence, lock }
      : { kind: 'miss', fence, lock, marker: marker as ResponseBypassReason }
  }

  async write(key: string, response: StoredResponse, remote: RemoteFence): Promise<boolean> {
    const fence = remote as RedisFence
    const px = response.deleteAt - Date.now()
    if (px <= 0) {
      // Already expired: nothing to store, but the fill lock must go.
      await this.abandon(key, remote)
      return false
    }
    const [k, h] = this.#layout.locate(key)
    const envelope = this.seal(response, fence)
    this.#locks.released(fence.token)
    const writing = withDeadline(
      'write',
      this.#opts.writeMs,
      this.#cmd.cachetWrite(
        4 + 2 * fence.tags.length,
        k.entry(h),
        k.lock(h),
        k.state,
        k.marker(h),
        ...fence.tags.map((t) => k.tag(t)),
        ...fence.tags.map((t) => k.expiry(t)),
        envelope,
        px,
        fence.token,
        fence.patternSeq,
        this.#opts.tagTtlMs,
        fence.epoch,
        ...fence.versions,
      ),
    )
    // The write releases the lock; if it failed, it may not have.
    if (fence.token !== '') writing.catch(() => this.#locks.release(k, h, fence.token))
    return (await writing) === 1
  }

  /** The response with the fence it is stored under, for the disk tier: the envelope `write()` stores. */
  seal(response: StoredResponse, remote: RemoteFence): Buffer {
    const fence = remote as RedisFence
    return encodeEnvelope(
      response,
      fence.versions,
      Number(fence.patternSeq),
      fence.epoch,
      fence.expires,
    )
  }

  /**
   * A sealed copy, if a read of its key would find it valid now: what the
   * READ script checks, against the versions a miss's fence carries (same
   * epoch, tags and tag versions, and no pattern invalidation since; the
   * expire records make it stale). No round trip.
   */
  unseal(sealed: Buffer, remote: RemoteFence): StoredResponse | undefined {
    const fence = remote as RedisFence
    const meta = decodeEnvelopeFence(sealed)
    if (
      meta === undefined ||
      meta.ep !== fence.epoch ||
      meta.p !== Number(fence.patternSeq) ||
      meta.t.length !== fence.tags.length ||
      meta.v.length !== fence.tags.length
    ) {
      return undefined
    }
    for (let i = 0; i < fence.tags.length; i++)
      if (meta.t[i] !== fence.tags[i] || meta.v[i] !== fence.versions[i]) return undefined
    const response = decodeEnvelope(sealed)
    if (response === undefined || response.deleteAt <= Date.now()) return undefined
    return expiredCopy(response, expiredSince(fence.expires, meta.x))
  }

  async abandon(
    key: string,
    remote: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    const fence = remote as RedisFence
    if (fence.token === '' && marker === undefined) return
    const [k, h] = this.#layout.locate(key)
    this.#locks.released(fence.token)
    const abandoning = withDeadline(
      'abandon',
      this.#opts.writeMs,
      this.#cmd.cachetAbandon(
        2,
        k.lock(h),
        k.marker(h),
        fence.token,
        marker?.reason ?? '',
        marker?.ms ?? 0,
      ),
    )
    if (fence.token !== '') abandoning.catch(() => this.#locks.release(k, h, fence.token))
    await abandoning
  }
}
