import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DiskLayer } from '../../src/disk/disk-layer'
import { FileDiskStore } from '../../src/disk/disk-store'
import type { ResponseBypassReason } from '../../src/http/storable'
import { decodeEnvelope, encodeEnvelope } from '../../src/tiers/envelope'
import type { RemoteFence, RemoteRead, StoredResponse } from '../../src/tiers/remote-tier'
import { FakeTier } from '../fake-tier'

// The disk layer's own decisions, below a fake shared tier that seals copies
// (every copy valid unless `refuse`): what is written, what is deleted, what
// a miss is answered with. The disk is a real directory.

class SealingTier extends FakeTier {
  refuse = false
  marker: ResponseBypassReason | undefined
  seal(response: StoredResponse): Buffer {
    return encodeEnvelope(response, [], 0)
  }
  unseal(sealed: Buffer): StoredResponse | undefined {
    return this.refuse ? undefined : decodeEnvelope(sealed)
  }
  override async read(
    key: string,
    tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    const read = await super.read(key, tags, options)
    return read.kind === 'miss' && this.marker !== undefined
      ? { ...read, marker: this.marker }
      : read
  }
}

function response(body: string, ttlMs = 60_000): StoredResponse {
  const now = Date.now()
  return {
    status: 200,
    headers: ['content-type', 'text/plain'],
    body: Buffer.from(body),
    etag: undefined,
    cachedAt: now,
    staleAt: now + ttlMs,
    deleteAt: now + ttlMs,
    tags: ['t'],
    path: '/p',
  }
}

let dir: string
let tier: SealingTier
let layer: DiskLayer
let disk: FileDiskStore
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cachet-disk-layer-'))
  tier = new SealingTier()
  disk = new FileDiskStore(dir, 1_000_000)
  layer = new DiskLayer(tier, disk)
  layer.attach({ namespace: 'ns', explicit: false })
  await layer.start({ onInvalidate() {}, onResync() {} })
})
afterEach(async () => {
  await layer.close()
  await rm(dir, { recursive: true, force: true })
})

/** A copy of `key` on disk, written as a fill the shared tier accepted would be. */
async function onDisk(key: string, body: string): Promise<void> {
  const miss = await tier.read(key, ['t'], { lock: true })
  if (miss.kind !== 'miss') throw new Error('expected a miss')
  expect(await layer.write(key, response(body), miss.fence)).toBe(true)
  await layer.settled()
  tier.entries.delete(key) // the shared tier lost it
}

function fenceOf(read: RemoteRead): RemoteFence {
  if (read.kind !== 'miss') throw new Error('expected a miss')
  return read.fence
}

async function read(key: string): Promise<RemoteRead> {
  return layer.read(key, ['t'], { lock: true })
}

test('a shared miss is answered from disk and promoted; the fill lock goes with the promotion', async () => {
  await onDisk('k', 'v1')
  const r = await read('k')
  expect(r.kind).toBe('hit')
  expect(r.kind === 'hit' && r.response.body.toString()).toBe('v1')
  expect(tier.entries.get('k')?.body.toString()).toBe('v1')
  expect(tier.locks.has('k')).toBe(false)
  expect(layer.diskStats().counts).toEqual({ hits: 1, refused: 0, writes: 1, errors: 0 })
})

test('a copy the shared tier refuses is a miss with its lock, and is deleted', async () => {
  await onDisk('k', 'v1')
  tier.refuse = true
  const r = await read('k')
  expect(r).toMatchObject({ kind: 'miss', lock: 'acquired' })
  await layer.settled()
  expect(disk.size).toBe(0)
  expect(layer.diskStats().counts?.refused).toBe(1)
})

test('a write the shared tier did not store deletes the older copy on disk', async () => {
  await onDisk('k', 'v1')
  const miss = await tier.read('k', ['t'], { lock: true })
  tier.writeAnswer = false
  expect(await layer.write('k', response('v2'), fenceOf(miss))).toBe(false)
  await layer.settled()
  tier.writeAnswer = true
  expect(disk.size).toBe(0)
  expect((await read('k')).kind).toBe('miss')
})

test('a copy written to go at once (a dropped one) takes the older copy off the disk', async () => {
  await onDisk('k', 'v1')
  const miss = await tier.read('k', ['t'], { lock: true })
  const dropped = { ...response('v1'), staleAt: Date.now() - 1, deleteAt: Date.now() - 1 }
  await layer.write('k', dropped, fenceOf(miss))
  await layer.settled()
  tier.entries.delete('k')
  expect(disk.size).toBe(0)
  expect((await read('k')).kind).toBe('miss')
})

test('a "could not be stored" marker: the copy is not served, and the abandon deletes it', async () => {
  await onDisk('k', 'v1')
  tier.marker = 'no-store'
  expect(await read('k')).toMatchObject({ kind: 'miss', marker: 'no-store' })
  const miss = await tier.read('k', ['t'], { lock: true })
  await layer.abandon('k', fenceOf(miss), { reason: 'no-store', ms: 1000 })
  await layer.settled()
  tier.marker = undefined
  expect(disk.size).toBe(0)
  expect((await read('k')).kind).toBe('miss')
})

test('an abandon without a marker (an error response) keeps the copy', async () => {
  await onDisk('k', 'v1')
  const miss = await tier.read('k', ['t'], { lock: true })
  await layer.abandon('k', fenceOf(miss))
  await layer.settled()
  expect((await read('k')).kind).toBe('hit')
})

test('skipEntry (a refresh, a revalidation) never reads the disk', async () => {
  await onDisk('k', 'v1')
  expect((await layer.read('k', ['t'], { lock: true, skipEntry: true })).kind).toBe('miss')
  expect(layer.diskStats().counts?.hits).toBe(0)
})

test('a disk that fails costs the miss it could have saved, counted', async () => {
  await onDisk('k', 'v1')
  await disk.close() // every disk operation now rejects
  const r = await read('k')
  expect(r).toMatchObject({ kind: 'miss', lock: 'acquired' })
  expect(layer.diskStats().counts?.errors).toBe(1)
})
