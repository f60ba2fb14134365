import { describe, expect, test } from './jest-globals'
import { asHit, noLock, stored, type TierCase } from './tier-case'

/** The tier contract's tag and pattern invalidation. */
export function invalidationCases(ctx: TierCase): void {
  describe('tag invalidation', () => {
    test('invalidating one of an entry’s tags makes it a miss; other entries stay', async () => {
      await ctx.fill('GET /things/1', stored({ tags: ['t:a', 'shared'] }))
      await ctx.fill('GET /things/2', stored({ tags: ['t:b', 'shared'] }))
      await ctx.fill('GET /other', stored({ tags: ['t:c'] }))
      await ctx.tier.invalidate({ tags: ['t:a'], patterns: [] })
      await ctx.expectMiss('GET /things/1', ['t:a', 'shared'])
      asHit(await ctx.tier.read('GET /things/2', ['t:b', 'shared'], noLock))
      await ctx.tier.invalidate({ tags: ['shared'], patterns: [] })
      await ctx.expectMiss('GET /things/2', ['t:b', 'shared'])
      asHit(await ctx.tier.read('GET /other', ['t:c'], noLock))
    })

    test('a write whose fence predates an invalidation of one of its tags is refused', async () => {
      const r = stored()
      const miss = await ctx.expectMiss('GET /things/1', r.tags)
      await ctx.tier.invalidate({ tags: ['t:b'], patterns: [] })
      expect(await ctx.tier.write('GET /things/1', r, miss.fence)).toBe(false)
      const next = await ctx.expectMiss('GET /things/1', r.tags)
      // A fence taken after the invalidation holds.
      expect(await ctx.tier.write('GET /things/1', r, next.fence)).toBe(true)
      asHit(await ctx.tier.read('GET /things/1', r.tags, noLock))
    })

    test('each invalidation counts: two in a row, then a fill in between', async () => {
      const r = stored()
      const first = await ctx.expectMiss('GET /things/1', r.tags)
      await ctx.tier.invalidate({ tags: ['t:a'], patterns: [] })
      const second = await ctx.expectMiss('GET /things/1', r.tags)
      await ctx.tier.invalidate({ tags: ['t:a'], patterns: [] })
      expect(await ctx.tier.write('GET /things/1', r, first.fence)).toBe(false)
      expect(await ctx.tier.write('GET /things/1', r, second.fence)).toBe(false)
    })

    test('invalidating unknown tags, or nothing, resolves', async () => {
      await ctx.expectMiss('GET /warm-up', ['t:a'])
      await ctx.tier.invalidate({ tags: ['never-seen', 'ünï'], patterns: [] })
      await ctx.tier.invalidate({ tags: [], patterns: [] })
    })
  })

  describe('pattern invalidation', () => {
    /** A pattern since the entry: a miss, or a hit that reports it (the engine matches it). */
    async function expectPatternSeen(key: string, tags: readonly string[], patterns: string[]) {
      const read = await ctx.tier.read(key, tags, noLock)
      if (read.kind === 'hit') for (const p of patterns) expect(read.patternsSince).toContain(p)
    }

    test('an entry stored before a pattern invalidation is a miss or reports the pattern', async () => {
      await ctx.fill('GET /things/1')
      await ctx.tier.invalidate({ tags: [], patterns: ['/things/:id'] })
      await expectPatternSeen('GET /things/1', stored().tags, ['/things/:id'])
      await ctx.tier.invalidate({ tags: [], patterns: ['/a', '/b/*rest'] })
      await expectPatternSeen('GET /things/1', stored().tags, ['/things/:id', '/a', '/b/*rest'])
    })

    test('concurrent invalidations from one process all count', async () => {
      await ctx.fill('GET /things/1')
      const patterns = Array.from({ length: 6 }, (_, i) => `/p/${i}`)
      await Promise.all(patterns.map((p) => ctx.tier.invalidate({ tags: [], patterns: [p] })))
      await expectPatternSeen('GET /things/1', stored().tags, patterns)
    })

    test('an entry stored after a pattern invalidation does not report it', async () => {
      await ctx.expectMiss('GET /things/1', stored().tags)
      await ctx.tier.invalidate({ tags: [], patterns: ['/things/:id'] })
      await ctx.fill('GET /things/1')
      expect(
        asHit(await ctx.tier.read('GET /things/1', stored().tags, noLock)).patternsSince,
      ).toEqual([])
    })

    test('a fill whose fence predates a pattern invalidation is refused or reports it', async () => {
      const miss = await ctx.expectMiss('GET /things/1', stored().tags)
      await ctx.tier.invalidate({ tags: [], patterns: ['/things/:id'] })
      await ctx.tier.write('GET /things/1', stored(), miss.fence)
      await expectPatternSeen('GET /things/1', stored().tags, ['/things/:id'])
    })
  })
}
