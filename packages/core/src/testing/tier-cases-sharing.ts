import { randomBytes } from 'node:crypto'
import { describe, expect, test } from './jest-globals'
import {
  asHit,
  asMiss,
  envelopeHead,
  expectSame,
  lock,
  noLock,
  stored,
  type TierCase,
  type TierContractOptions,
} from './tier-case'

/** The tier contract's corrupt entries, processes sharing a store, and coherence. */
export function sharingCases(ctx: TierCase, options: TierContractOptions): void {
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
        if (ctx.fx.corrupt === undefined) return
        const key = 'GET /corrupt'
        await ctx.fx.corrupt(key, bytes())
        if (ctx.fx.hasEntry !== undefined) expect(await ctx.fx.hasEntry(key)).toBe(true)
        const miss = await ctx.expectMiss(key, stored().tags)
        if (ctx.fx.hasEntry !== undefined) expect(await ctx.fx.hasEntry(key)).toBe(false)
        expect(await ctx.tier.write(key, stored(), miss.fence)).toBe(true)
        asHit(await ctx.tier.read(key, stored().tags, noLock))
      })
    }

    test('an envelope whose metadata describes no response is a miss', async () => {
      if (ctx.fx.corrupt === undefined) return
      await ctx.expectMiss('GET /warm-up', [])
      const meta = Buffer.from(JSON.stringify({ t: [], v: [], p: 0 }))
      await ctx.fx.corrupt('GET /corrupt', Buffer.concat([envelopeHead(meta.length), meta]))
      await ctx.expectMiss('GET /corrupt', [])
    })
  })

  describe('processes sharing the store (needs peer())', () => {
    test('entries, invalidations and locks are shared', async () => {
      const other = await ctx.peer()
      if (other === undefined) return
      const r = stored()
      await ctx.fill('GET /things/1', r)
      expectSame(asHit(await other.read('GET /things/1', r.tags, noLock)).response, r)
      await other.invalidate({ tags: ['t:a'], patterns: [] })
      await ctx.expectMiss('GET /things/1', r.tags)
      expect(asMiss(await ctx.tier.read('GET /k', ['t:a'], lock)).lock).toBe('acquired')
      expect(asMiss(await other.read('GET /k', ['t:a'], lock)).lock).toBe('busy')
    })

    test('a fill started before another process’s invalidation is refused', async () => {
      const other = await ctx.peer()
      if (other === undefined) return
      const miss = await ctx.expectMiss('GET /things/1', stored().tags)
      await other.invalidate({ tags: ['t:b'], patterns: [] })
      expect(await ctx.tier.write('GET /things/1', stored(), miss.fence)).toBe(false)
    })
  })

  describe('coherence', () => {
    if (options.coherent !== undefined) {
      test(`coherent is ${options.coherent}`, () => {
        expect(ctx.tier.coherent).toBe(options.coherent)
      })
    }

    test('a started tier is trusted; without a bus, even before start()', async () => {
      expect(ctx.tier.trusted()).toBe(true)
      const other = await ctx.fx.peer?.()
      if (other !== undefined && !other.coherent) expect(other.trusted()).toBe(true)
    })

    if (options.coherent === true) {
      test('another process’s invalidation reaches the hooks before it resolves (needs peer())', async () => {
        const other = await ctx.peer()
        if (other === undefined) return
        await other.invalidate({ tags: ['t:a'], patterns: ['/x/*y'] })
        expect(ctx.plans).toContainEqual({ tags: ['t:a'], patterns: ['/x/*y'] })
      })
    }
  })
}
