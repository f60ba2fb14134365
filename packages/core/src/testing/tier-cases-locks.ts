import { describe, expect, test } from './jest-globals'
import { asMiss, lock, noLock, sleep, stored, type TierCase } from './tier-case'

/** The tier contract's fill lock and pass markers. */
export function lockCases(ctx: TierCase): void {
  describe('fill lock and markers', () => {
    test('the first reader with lock gets it, the next is told busy, a plain read none', async () => {
      const first = await ctx.tier.read('GET /k', ['t:a'], lock)
      expect(asMiss(first).lock).toBe('acquired')
      expect(asMiss(first).fence.lock).toBe(true)
      const second = asMiss(await ctx.tier.read('GET /k', ['t:a'], lock))
      expect(second.lock).toBe('busy')
      expect(second.fence.lock).toBe(false)
      expect(asMiss(await ctx.tier.read('GET /k', ['t:a'], noLock)).lock).toBe('none')
      // Locks are per key.
      expect(asMiss(await ctx.tier.read('GET /other', ['t:a'], lock)).lock).toBe('acquired')
    })

    test('concurrent readers with lock: exactly one gets it', async () => {
      const reads = await Promise.all(
        Array.from({ length: 8 }, () => ctx.tier.read('GET /k', ['t:a'], lock)),
      )
      const locks = reads.map((r) => asMiss(r).lock).sort()
      expect(locks).toEqual(['acquired', ...Array(7).fill('busy')])
    })

    test('abandon releases the lock', async () => {
      const first = asMiss(await ctx.tier.read('GET /k', ['t:a'], lock))
      await ctx.tier.abandon('GET /k', first.fence)
      expect(asMiss(await ctx.tier.read('GET /k', ['t:a'], lock)).lock).toBe('acquired')
    })

    test('abandoning without the lock (a busy reader) does not release the holder’s', async () => {
      asMiss(await ctx.tier.read('GET /k', ['t:a'], lock))
      const busy = asMiss(await ctx.tier.read('GET /k', ['t:a'], lock))
      await ctx.tier.abandon('GET /k', busy.fence)
      expect(asMiss(await ctx.tier.read('GET /k', ['t:a'], lock)).lock).toBe('busy')
    })

    test('a write releases the lock, whether it stored or was fenced out', async () => {
      const r = stored({ tags: ['t:a'] })
      const a = asMiss(await ctx.tier.read('GET /k', r.tags, lock))
      expect(await ctx.tier.write('GET /k', r, a.fence)).toBe(true)
      await ctx.tier.invalidate({ tags: ['t:a'], patterns: [] })
      const b = asMiss(await ctx.tier.read('GET /k', r.tags, lock))
      expect(b.lock).toBe('acquired')
      await ctx.tier.invalidate({ tags: ['t:a'], patterns: [] })
      expect(await ctx.tier.write('GET /k', r, b.fence)).toBe(false)
      expect(asMiss(await ctx.tier.read('GET /k', r.tags, lock)).lock).toBe('acquired')
    })

    test('abandon with a marker: the next reads report it (and take no lock) until it expires', async () => {
      const first = asMiss(await ctx.tier.read('GET /k', ['t:a'], lock))
      await ctx.tier.abandon('GET /k', first.fence, { reason: 'set-cookie', ms: 300 })
      const marked = asMiss(await ctx.tier.read('GET /k', ['t:a'], lock))
      expect(marked.marker).toBe('set-cookie')
      expect(marked.lock).toBe('none')
      await sleep(450)
      const later = asMiss(await ctx.tier.read('GET /k', ['t:a'], lock))
      expect(later.marker).toBe(undefined)
      expect(later.lock).toBe('acquired')
    })

    test('a marker without a lock, and a stored fill clears the marker', async () => {
      const r = stored({ tags: ['t:a'] })
      const plain = asMiss(await ctx.tier.read('GET /k', r.tags, noLock))
      await ctx.tier.abandon('GET /k', plain.fence, { reason: 'too-large', ms: 60_000 })
      const marked = asMiss(await ctx.tier.read('GET /k', r.tags, noLock))
      expect(marked.marker).toBe('too-large')
      expect(await ctx.tier.write('GET /k', r, marked.fence)).toBe(true)
      await ctx.tier.invalidate({ tags: ['t:a'], patterns: [] })
      expect(asMiss(await ctx.tier.read('GET /k', r.tags, noLock)).marker).toBe(undefined)
    })
  })
}
