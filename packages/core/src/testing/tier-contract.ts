/**
 * The contract every shared tier keeps, as Jest suites that any tier can run
 * (BentoCache does the same for its drivers):
 *
 *   tierContract('my tier', async () => ({ tier: myTier(), cleanup: async () => {} }))
 *   engineContract('my tier', async () => ({ options: { store: { l2: myTier() } } }))
 *
 * It uses the test runner's globals `describe`, `test`, `expect`, `beforeEach`
 * and `afterEach` (Jest's, or any runner that provides the same), declared
 * here with the few signatures it needs so that `@cachet/core` does not
 * compile against any runner's types.
 */
import { randomBytes } from 'node:crypto'
import type { CoherenceHooks, RemoteRead, RemoteTier, StoredResponse } from '../tiers/remote-tier'
import { runnerGlobals } from './jest-globals'

// Read when called, inside the caller's test file, where the runner defines them.
const describe = (name: string, body: () => void) => runnerGlobals().describe(name, body)
const test = (name: string, body: () => unknown, timeout?: number) =>
  runnerGlobals().test(name, body, timeout)
const expect = (actual: unknown) => runnerGlobals().expect(actual)
const beforeEach = (body: () => unknown) => runnerGlobals().beforeEach(body)
const afterEach = (body: () => unknown) => runnerGlobals().afterEach(body)

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

function stored(over: Partial<StoredResponse> = {}): StoredResponse {
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

type Miss = Extract<RemoteRead, { kind: 'miss' }>
type Hit = Extract<RemoteRead, { kind: 'hit' }>

function asMiss(read: RemoteRead): Miss {
  expect(read.kind).toBe('miss')
  return read as Miss
}

function asHit(read: RemoteRead): Hit {
  expect(read.kind).toBe('hit')
  return read as Hit
}

/** The fields of a stored response, body aside (compared byte for byte). */
function fields(r: StoredResponse): object {
  const { body: _body, ...rest } = r
  return { ...rest, headers: [...r.headers], tags: [...r.tags] }
}

function expectSame(actual: StoredResponse, expected: StoredResponse): void {
  expect(fields(actual)).toEqual(fields(expected))
  expect(actual.body.length).toBe(expected.body.length)
  expect(Buffer.compare(actual.body, expected.body)).toBe(0)
}

/** The suite of a `RemoteTier`: reads, fenced writes, invalidation, expiry, locks, corruption. */
export function tierContract(
  name: string,
  setup: () => Promise<TierFixture>,
  options: TierContractOptions = {},
): void {
  describe(`${name} tier contract`, () => {
    let fx: TierFixture
    let tier: RemoteTier
    const lock = { lock: true }
    const noLock = { lock: false }

    /** What the tier's coherence hooks were told (invalidations by other processes). */
    let plans: unknown[]

    // Started as the engine starts it: a tier may refuse work before (Redis
    // does until its connection is ready).
    beforeEach(async () => {
      fx = await setup()
      tier = fx.tier
      plans = []
      await tier.start(recorder(plans))
    })
    afterEach(() => fx.cleanup())

    /** A second tier on the same store, started, or `undefined` when the fixture has none. */
    async function peer(): Promise<RemoteTier | undefined> {
      const other = await fx.peer?.()
      await other?.start(recorder([]))
      return other
    }

    /** Reads `key` (a miss), then writes `r` with that fence. */
    async function fill(key: string, r: StoredResponse = stored()): Promise<void> {
      const miss = asMiss(await tier.read(key, r.tags, noLock))
      expect(await tier.write(key, r, miss.fence)).toBe(true)
    }

    async function expectMiss(key: string, tags: readonly string[]): Promise<Miss> {
      return asMiss(await tier.read(key, tags, noLock))
    }

    describe('reads and writes', () => {
      test('an unknown key is a miss with a fence, no lock, no marker', async () => {
        const miss = await expectMiss('GET /nothing', ['t:a'])
        expect(miss.fence.lock).toBe(false)
        expect(miss.lock).toBe('none')
        expect(miss.marker).toBe(undefined)
      })

      test('a write with the fence of a miss is a hit, field for field, every byte value', async () => {
        const r = stored()
        await fill('GET /things/1', r)
        const hit = asHit(await tier.read('GET /things/1', r.tags, noLock))
        expectSame(hit.response, r)
        expect(hit.patternsSince).toEqual([])
      })

      test('a 1 MiB body round-trips byte for byte', async () => {
        const r = stored({ body: randomBytes(1024 * 1024) })
        await fill('GET /big', r)
        expectSame(asHit(await tier.read('GET /big', r.tags, noLock)).response, r)
      })

      test('an empty body, no etag, no headers, no tags, another status', async () => {
        const r = stored({ body: Buffer.alloc(0), etag: undefined, headers: [], tags: [] })
        await fill('GET /empty', { ...r, status: 404 })
        expectSame(asHit(await tier.read('GET /empty', [], noLock)).response, { ...r, status: 404 })
      })

      test('non-ASCII header values, tags and paths, and long keys', async () => {
        const key = `GET /x?${'q'.repeat(4096)}`
        const r = stored({
          headers: ['x-name', 'Zoë ✓', 'link', '</a>; rel="next"'],
          tags: ['user:zoë@example.com', 'with space', 'a:b:c', 'ключ'],
          path: '/ünï/çødé',
        })
        await fill(key, r)
        expectSame(asHit(await tier.read(key, r.tags, noLock)).response, r)
      })

      test('keys are separate: other keys, and keys that differ by case, are misses', async () => {
        await fill('GET /things/1')
        await expectMiss('GET /things/2', stored().tags)
        await expectMiss('get /things/1', stored().tags)
        await expectMiss('GET /things/1 ', stored().tags)
      })

      test('an entry read with other tags than it was stored with is a miss', async () => {
        await fill('GET /things/1')
        await expectMiss('GET /things/1', ['t:a'])
        await expectMiss('GET /things/1', ['t:b', 't:a'])
        await expectMiss('GET /things/1', ['t:a', 't:b', 't:c'])
      })

      test('a later fill replaces the entry', async () => {
        await fill('GET /things/1', stored({ body: Buffer.from('one') }))
        const again = asMiss(
          await tier.read('GET /things/1', stored().tags, { ...noLock, skipEntry: true }),
        )
        const two = stored({ body: Buffer.from('two') })
        expect(await tier.write('GET /things/1', two, again.fence)).toBe(true)
        expectSame(asHit(await tier.read('GET /things/1', two.tags, noLock)).response, two)
      })

      test('skipEntry: a valid entry is passed over, with a fence', async () => {
        await fill('GET /things/1')
        const miss = asMiss(
          await tier.read('GET /things/1', stored().tags, { ...noLock, skipEntry: true }),
        )
        expect(miss.lock).toBe('none')
      })
    })

    describe('expiry', () => {
      test('a write whose deleteAt has passed stores nothing', async () => {
        const miss = await expectMiss('GET /old', stored().tags)
        const now = Date.now()
        const old = stored({ cachedAt: now - 2000, staleAt: now - 1500, deleteAt: now - 1000 })
        expect(await tier.write('GET /old', old, miss.fence)).toBe(false)
        await expectMiss('GET /old', old.tags)
      })

      test('an entry is a miss once deleteAt has passed', async () => {
        const now = Date.now()
        await fill('GET /short', stored({ staleAt: now + 200, deleteAt: now + 200 }))
        asHit(await tier.read('GET /short', stored().tags, noLock))
        await sleep(350)
        await expectMiss('GET /short', stored().tags)
      })

      test('staleness is the engine’s business: a stale entry before deleteAt is a hit', async () => {
        const now = Date.now()
        const r = stored({ cachedAt: now - 5000, staleAt: now - 1000 })
        await fill('GET /stale', r)
        expectSame(asHit(await tier.read('GET /stale', r.tags, noLock)).response, r)
      })
    })

    describe('tag invalidation', () => {
      test('invalidating one of an entry’s tags makes it a miss; other entries stay', async () => {
        await fill('GET /things/1', stored({ tags: ['t:a', 'shared'] }))
        await fill('GET /things/2', stored({ tags: ['t:b', 'shared'] }))
        await fill('GET /other', stored({ tags: ['t:c'] }))
        await tier.invalidate({ tags: ['t:a'], patterns: [] })
        await expectMiss('GET /things/1', ['t:a', 'shared'])
        asHit(await tier.read('GET /things/2', ['t:b', 'shared'], noLock))
        await tier.invalidate({ tags: ['shared'], patterns: [] })
        await expectMiss('GET /things/2', ['t:b', 'shared'])
        asHit(await tier.read('GET /other', ['t:c'], noLock))
      })

      test('a write whose fence predates an invalidation of one of its tags is refused', async () => {
        const r = stored()
        const miss = await expectMiss('GET /things/1', r.tags)
        await tier.invalidate({ tags: ['t:b'], patterns: [] })
        expect(await tier.write('GET /things/1', r, miss.fence)).toBe(false)
        const next = await expectMiss('GET /things/1', r.tags)
        // A fence taken after the invalidation holds.
        expect(await tier.write('GET /things/1', r, next.fence)).toBe(true)
        asHit(await tier.read('GET /things/1', r.tags, noLock))
      })

      test('each invalidation counts: two in a row, then a fill in between', async () => {
        const r = stored()
        const first = await expectMiss('GET /things/1', r.tags)
        await tier.invalidate({ tags: ['t:a'], patterns: [] })
        const second = await expectMiss('GET /things/1', r.tags)
        await tier.invalidate({ tags: ['t:a'], patterns: [] })
        expect(await tier.write('GET /things/1', r, first.fence)).toBe(false)
        expect(await tier.write('GET /things/1', r, second.fence)).toBe(false)
      })

      test('invalidating unknown tags, or nothing, resolves', async () => {
        await expectMiss('GET /warm-up', ['t:a'])
        await tier.invalidate({ tags: ['never-seen', 'ünï'], patterns: [] })
        await tier.invalidate({ tags: [], patterns: [] })
      })
    })

    describe('pattern invalidation', () => {
      /** A pattern since the entry: a miss, or a hit that reports it (the engine matches it). */
      async function expectPatternSeen(key: string, tags: readonly string[], patterns: string[]) {
        const read = await tier.read(key, tags, noLock)
        if (read.kind === 'hit') for (const p of patterns) expect(read.patternsSince).toContain(p)
      }

      test('an entry stored before a pattern invalidation is a miss or reports the pattern', async () => {
        await fill('GET /things/1')
        await tier.invalidate({ tags: [], patterns: ['/things/:id'] })
        await expectPatternSeen('GET /things/1', stored().tags, ['/things/:id'])
        await tier.invalidate({ tags: [], patterns: ['/a', '/b/*rest'] })
        await expectPatternSeen('GET /things/1', stored().tags, ['/things/:id', '/a', '/b/*rest'])
      })

      test('concurrent invalidations from one process all count', async () => {
        await fill('GET /things/1')
        const patterns = Array.from({ length: 6 }, (_, i) => `/p/${i}`)
        await Promise.all(patterns.map((p) => tier.invalidate({ tags: [], patterns: [p] })))
        await expectPatternSeen('GET /things/1', stored().tags, patterns)
      })

      test('an entry stored after a pattern invalidation does not report it', async () => {
        await expectMiss('GET /things/1', stored().tags)
        await tier.invalidate({ tags: [], patterns: ['/things/:id'] })
        await fill('GET /things/1')
        expect(
          asHit(await tier.read('GET /things/1', stored().tags, noLock)).patternsSince,
        ).toEqual([])
      })

      test('a fill whose fence predates a pattern invalidation is refused or reports it', async () => {
        const miss = await expectMiss('GET /things/1', stored().tags)
        await tier.invalidate({ tags: [], patterns: ['/things/:id'] })
        await tier.write('GET /things/1', stored(), miss.fence)
        await expectPatternSeen('GET /things/1', stored().tags, ['/things/:id'])
      })
    })

    describe('fill lock and markers', () => {
      test('the first reader with lock gets it, the next is told busy, a plain read none', async () => {
        const first = await tier.read('GET /k', ['t:a'], lock)
        expect(asMiss(first).lock).toBe('acquired')
        expect(asMiss(first).fence.lock).toBe(true)
        const second = asMiss(await tier.read('GET /k', ['t:a'], lock))
        expect(second.lock).toBe('busy')
        expect(second.fence.lock).toBe(false)
        expect(asMiss(await tier.read('GET /k', ['t:a'], noLock)).lock).toBe('none')
        // Locks are per key.
        expect(asMiss(await tier.read('GET /other', ['t:a'], lock)).lock).toBe('acquired')
      })

      test('concurrent readers with lock: exactly one gets it', async () => {
        const reads = await Promise.all(
          Array.from({ length: 8 }, () => tier.read('GET /k', ['t:a'], lock)),
        )
        const locks = reads.map((r) => asMiss(r).lock).sort()
        expect(locks).toEqual(['acquired', ...Array(7).fill('busy')])
      })

      test('abandon releases the lock', async () => {
        const first = asMiss(await tier.read('GET /k', ['t:a'], lock))
        await tier.abandon('GET /k', first.fence)
        expect(asMiss(await tier.read('GET /k', ['t:a'], lock)).lock).toBe('acquired')
      })

      test('abandoning without the lock (a busy reader) does not release the holder’s', async () => {
        asMiss(await tier.read('GET /k', ['t:a'], lock))
        const busy = asMiss(await tier.read('GET /k', ['t:a'], lock))
        await tier.abandon('GET /k', busy.fence)
        expect(asMiss(await tier.read('GET /k', ['t:a'], lock)).lock).toBe('busy')
      })

      test('a write releases the lock, whether it stored or was fenced out', async () => {
        const r = stored({ tags: ['t:a'] })
        const a = asMiss(await tier.read('GET /k', r.tags, lock))
        expect(await tier.write('GET /k', r, a.fence)).toBe(true)
        await tier.invalidate({ tags: ['t:a'], patterns: [] })
        const b = asMiss(await tier.read('GET /k', r.tags, lock))
        expect(b.lock).toBe('acquired')
        await tier.invalidate({ tags: ['t:a'], patterns: [] })
        expect(await tier.write('GET /k', r, b.fence)).toBe(false)
        expect(asMiss(await tier.read('GET /k', r.tags, lock)).lock).toBe('acquired')
      })

      test('abandon with a marker: the next reads report it (and take no lock) until it expires', async () => {
        const first = asMiss(await tier.read('GET /k', ['t:a'], lock))
        await tier.abandon('GET /k', first.fence, { reason: 'set-cookie', ms: 300 })
        const marked = asMiss(await tier.read('GET /k', ['t:a'], lock))
        expect(marked.marker).toBe('set-cookie')
        expect(marked.lock).toBe('none')
        await sleep(450)
        const later = asMiss(await tier.read('GET /k', ['t:a'], lock))
        expect(later.marker).toBe(undefined)
        expect(later.lock).toBe('acquired')
      })

      test('a marker without a lock, and a stored fill clears the marker', async () => {
        const r = stored({ tags: ['t:a'] })
        const plain = asMiss(await tier.read('GET /k', r.tags, noLock))
        await tier.abandon('GET /k', plain.fence, { reason: 'too-large', ms: 60_000 })
        const marked = asMiss(await tier.read('GET /k', r.tags, noLock))
        expect(marked.marker).toBe('too-large')
        expect(await tier.write('GET /k', r, marked.fence)).toBe(true)
        await tier.invalidate({ tags: ['t:a'], patterns: [] })
        expect(asMiss(await tier.read('GET /k', r.tags, noLock)).marker).toBe(undefined)
      })
    })

    describe('corrupt entries (needs corrupt())', () => {
      const garbage: Array<[string, () => Buffer]> = [
        ['random bytes', () => randomBytes(64)],
        ['a text value', () => Buffer.from('{"status":200}')],
        ['no metadata', () => Buffer.from([0x43, 0x43, 0x48, 0x01])],
        ['a length past the end', () => Buffer.from([0x43, 0x43, 0x48, 0x01, 0, 0, 1, 0, 0x7b])],
        ['metadata that is not JSON', () => Buffer.concat([envelopeHead(5), Buffer.from('{{{{{')])],
        ['another format version', () => Buffer.concat([Buffer.from('CCH\x02'), Buffer.alloc(8)])],
      ]
      for (const [what, bytes] of garbage) {
        test(`${what}: a miss, deleted, and the next fill is stored`, async () => {
          if (fx.corrupt === undefined) return
          const key = 'GET /corrupt'
          await fx.corrupt(key, bytes())
          if (fx.hasEntry !== undefined) expect(await fx.hasEntry(key)).toBe(true)
          const miss = await expectMiss(key, stored().tags)
          if (fx.hasEntry !== undefined) expect(await fx.hasEntry(key)).toBe(false)
          expect(await tier.write(key, stored(), miss.fence)).toBe(true)
          asHit(await tier.read(key, stored().tags, noLock))
        })
      }

      test('an envelope whose metadata describes no response is a miss', async () => {
        if (fx.corrupt === undefined) return
        await expectMiss('GET /warm-up', [])
        const meta = Buffer.from(JSON.stringify({ t: [], v: [], p: 0 }))
        await fx.corrupt('GET /corrupt', Buffer.concat([envelopeHead(meta.length), meta]))
        await expectMiss('GET /corrupt', [])
      })
    })

    describe('processes sharing the store (needs peer())', () => {
      test('entries, invalidations and locks are shared', async () => {
        const other = await peer()
        if (other === undefined) return
        const r = stored()
        await fill('GET /things/1', r)
        expectSame(asHit(await other.read('GET /things/1', r.tags, noLock)).response, r)
        await other.invalidate({ tags: ['t:a'], patterns: [] })
        await expectMiss('GET /things/1', r.tags)
        expect(asMiss(await tier.read('GET /k', ['t:a'], lock)).lock).toBe('acquired')
        expect(asMiss(await other.read('GET /k', ['t:a'], lock)).lock).toBe('busy')
      })

      test('a fill started before another process’s invalidation is refused', async () => {
        const other = await peer()
        if (other === undefined) return
        const miss = await expectMiss('GET /things/1', stored().tags)
        await other.invalidate({ tags: ['t:b'], patterns: [] })
        expect(await tier.write('GET /things/1', stored(), miss.fence)).toBe(false)
      })
    })

    describe('coherence', () => {
      if (options.coherent !== undefined) {
        test(`coherent is ${options.coherent}`, () => {
          expect(tier.coherent).toBe(options.coherent)
        })
      }

      test('a started tier is trusted; without a bus, even before start()', async () => {
        expect(tier.trusted()).toBe(true)
        const other = await fx.peer?.()
        if (other !== undefined && !other.coherent) expect(other.trusted()).toBe(true)
      })

      if (options.coherent === true) {
        test('another process’s invalidation reaches the hooks before it resolves (needs peer())', async () => {
          const other = await peer()
          if (other === undefined) return
          await other.invalidate({ tags: ['t:a'], patterns: ['/x/*y'] })
          expect(plans).toContainEqual({ tags: ['t:a'], patterns: ['/x/*y'] })
        })
      }
    })
  })
}

function recorder(plans: unknown[]): CoherenceHooks {
  return { onInvalidate: (plan) => void plans.push(plan), onResync: () => {} }
}

function envelopeHead(metaLength: number): Buffer {
  const head = Buffer.from([0x43, 0x43, 0x48, 0x01, 0, 0, 0, 0])
  head.writeUInt32BE(metaLength, 4)
  return head
}
