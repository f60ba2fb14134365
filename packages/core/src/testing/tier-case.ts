import type { CoherenceHooks, RemoteRead, RemoteTier, StoredResponse } from '../tiers/remote-tier'
import { expect } from './jest-globals'

// What the tier contract's cases share: the sample response, the read
// assertions, and the state of the running case (`TierCase`).

export interface TierFixture {
  /** A tier on a store of its own (a fresh prefix, a fresh Keyv), not started. */
  tier: RemoteTier
  /** Closes the tier and whatever the fixture opened. */
  cleanup(): Promise<void>
  /**
   * Stores `bytes` as the entry of `key`, exactly as the tier stores an
   * envelope, bypassing the tier. Without it, the corruption cases check nothing.
   */
  corrupt?(key: string, bytes: Buffer): Promise<void>
  /** Whether the store holds anything as the entry of `key` (a corrupt one must be deleted). */
  hasEntry?(key: string): Promise<boolean>
  /**
   * A second tier on the same store, as another process would open it (the
   * fixture's cleanup closes it). Without it, the cross-process cases check nothing.
   */
  peer?(): Promise<RemoteTier>
}

export interface TierContractOptions {
  /** What `tier.coherent` must be: `true` when the tier has an invalidation bus. */
  coherent?: boolean
}

const HOUR = 3_600_000
export const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export function stored(over: Partial<StoredResponse> = {}): StoredResponse {
  const now = Date.now()
  return {
    status: 200,
    headers: ['content-type', 'application/octet-stream', 'x-multi', 'a', 'x-multi', 'b'],
    body: ALL_BYTES,
    etag: '"e-1"',
    cachedAt: now,
    staleAt: now + HOUR,
    deleteAt: now + 2 * HOUR,
    tags: ['t:a', 't:b'],
    path: '/things/1',
    ...over,
  }
}

export type Miss = Extract<RemoteRead, { kind: 'miss' }>
export type Hit = Extract<RemoteRead, { kind: 'hit' }>

export function asMiss(read: RemoteRead): Miss {
  expect(read.kind).toBe('miss')
  return read as Miss
}

export function asHit(read: RemoteRead): Hit {
  expect(read.kind).toBe('hit')
  return read as Hit
}

/** The fields of a stored response, body aside (compared byte for byte). */
function fields(r: StoredResponse): object {
  const { body: _body, ...rest } = r
  return { ...rest, headers: [...r.headers], tags: [...r.tags] }
}

export function expectSame(actual: StoredResponse, expected: StoredResponse): void {
  expect(fields(actual)).toEqual(fields(expected))
  expect(actual.body.length).toBe(expected.body.length)
  expect(Buffer.compare(actual.body, expected.body)).toBe(0)
}

/** The running case of the tier contract: set up afresh before each test. */
export interface TierCase {
  fx: TierFixture
  tier: RemoteTier
  /** What the tier's coherence hooks were told (invalidations by other processes). */
  plans: unknown[]
  /** A second tier on the same store, started, or `undefined` when the fixture has none. */
  peer(): Promise<RemoteTier | undefined>
  /** Reads `key` (a miss), then writes `r` with that fence. */
  fill(key: string, r?: StoredResponse): Promise<void>
  expectMiss(key: string, tags: readonly string[]): Promise<Miss>
}

export const lock = { lock: true }
export const noLock = { lock: false }

export function recorder(plans: unknown[]): CoherenceHooks {
  return { onInvalidate: (plan) => void plans.push(plan), onResync: () => {} }
}

export function envelopeHead(metaLength: number): Buffer {
  const head = Buffer.from([0x43, 0x43, 0x48, 0x01, 0, 0, 0, 0])
  head.writeUInt32BE(metaLength, 4)
  return head
}
