import { randomBytes } from 'node:crypto'
import { describe, expect, test } from './jest-globals'
import { asHit, asMiss, expectSame, noLock, sleep, stored, type TierCase } from './tier-case'

/** The tier contract's reads, writes and expiry. */
export function storageCases(ctx: TierCase): void {
  describe('reads and writes', () => {
    test('an unknown key is a miss with a fence, no lock, no marker', async () => {
      const miss = await ctx.expectMiss('GET /nothing', ['t:a'])
      expect(miss.fence.lock).toBe(false)
      expect(miss.lock).toBe('none')
      expect(miss.marker).toBe(undefined)
    })

    test('a write with the fence of a miss is a hit, field for field, every byte value', async () => {
      const r = stored()
      await ctx.fill('GET /things/1', r)
      const hit = asHit(await ctx.tier.read('GET /things/1', r.tags, noLock))
      expectSame(hit.response, r)
      expect(hit.patternsSince).toEqual([])
    })

    test('a 1 MiB body round-trips byte for byte', async () => {
      const r = stored({ body: randomBytes(1024 * 1024) })
      await ctx.fill('GET /big', r)
      expectSame(asHit(await ctx.tier.read('GET /big', r.tags, noLock)).response, r)
    })

    test('an empty body, no etag, no headers, no tags, another status', async () => {
      const r = stored({ body: Buffer.alloc(0), etag: undefined, headers: [], tags: [] })
      await ctx.fill('GET /empty', { ...r, status: 404 })
      expectSame(asHit(await ctx.tier.read('GET /empty', [], noLock)).response, {
        ...r,
        status: 404,
      })
    })

    test('non-ASCII header values, tags and paths, and long keys', async () => {
      const key = `GET /x?${'q'.repeat(4096)}`
      const r = stored({
        headers: ['x-name', 'Zoë ✓', 'link', '</a>; rel="next"'],
        tags: ['user:zoë@example.com', 'with space', 'a:b:c', 'ключ'],
        path: '/ünï/çødé',
      })
      await ctx.fill(key, r)
      expectSame(asHit(await ctx.tier.read(key, r.tags, noLock)).response, r)
    })

    test('keys are separate: other keys, and keys that differ by case, are misses', async () => {
      await ctx.fill('GET /things/1')
      await ctx.expectMiss('GET /things/2', stored().tags)
      await ctx.expectMiss('get /things/1', stored().tags)
      await ctx.expectMiss('GET /things/1 ', stored().tags)
    })

    test('an entry read with other tags than it was stored with is a miss', async () => {
      await ctx.fill('GET /things/1')
      await ctx.expectMiss('GET /things/1', ['t:a'])
      await ctx.expectMiss('GET /things/1', ['t:b', 't:a'])
      await ctx.expectMiss('GET /things/1', ['t:a', 't:b', 't:c'])
    })

    test('a later fill replaces the entry', async () => {
      await ctx.fill('GET /things/1', stored({ body: Buffer.from('one') }))
      const again = asMiss(
        await ctx.tier.read('GET /things/1', stored().tags, { ...noLock, skipEntry: true }),
      )
      const two = stored({ body: Buffer.from('two') })
      expect(await ctx.tier.write('GET /things/1', two, again.fence)).toBe(true)
      expectSame(asHit(await ctx.tier.read('GET /things/1', two.tags, noLock)).response, two)
    })

    test('skipEntry: a valid entry is passed over, with a fence', async () => {
      await ctx.fill('GET /things/1')
      const miss = asMiss(
        await ctx.tier.read('GET /things/1', stored().tags, { ...noLock, skipEntry: true }),
      )
      expect(miss.lock).toBe('none')
    })
  })

  describe('expiry', () => {
    test('a write whose deleteAt has passed stores nothing', async () => {
      const miss = await ctx.expectMiss('GET /old', stored().tags)
      const now = Date.now()
      const old = stored({ cachedAt: now - 2000, staleAt: now - 1500, deleteAt: now - 1000 })
      expect(await ctx.tier.write('GET /old', old, miss.fence)).toBe(false)
      await ctx.expectMiss('GET /old', old.tags)
    })

    test('an entry is a miss once deleteAt has passed', async () => {
      const now = Date.now()
      await ctx.fill('GET /short', stored({ staleAt: now + 200, deleteAt: now + 200 }))
      asHit(await ctx.tier.read('GET /short', stored().tags, noLock))
      await sleep(350)
      await ctx.expectMiss('GET /short', stored().tags)
    })

    test('staleness is the engine’s business: a stale entry before deleteAt is a hit', async () => {
      const now = Date.now()
      const r = stored({ cachedAt: now - 5000, staleAt: now - 1000 })
      await ctx.fill('GET /stale', r)
      expectSame(asHit(await ctx.tier.read('GET /stale', r.tags, noLock)).response, r)
    })
  })
}
