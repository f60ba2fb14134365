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
import type { RemoteTier, StoredResponse } from '../tiers/remote-tier'
import { afterEach, beforeEach, describe, expect } from './jest-globals'
import {
  asMiss,
  type Miss,
  noLock,
  recorder,
  stored,
  type TierCase,
  type TierContractOptions,
  type TierFixture,
} from './tier-case'
import { invalidationCases } from './tier-cases-invalidation'
import { lockCases } from './tier-cases-locks'
import { sharingCases } from './tier-cases-sharing'
import { storageCases } from './tier-cases-storage'

export type { TierContractOptions, TierFixture } from './tier-case'
export { ALL_BYTES, sleep } from './tier-case'

/** The suite of a `RemoteTier`: reads, fenced writes, invalidation, expiry, locks, corruption. */
export function tierContract(
  name: string,
  setup: () => Promise<TierFixture>,
  options: TierContractOptions = {},
): void {
  describe(`${name} tier contract`, () => {
    // The state of the running case, which the groups of cases read; `fx`
    // and `tier` are set before each test.
    const ctx = { plans: [] as unknown[], peer, fill, expectMiss } as TierCase

    // Started as the engine starts it: a tier may refuse work before (Redis
    // does until its connection is ready).
    beforeEach(async () => {
      ctx.fx = await setup()
      ctx.tier = ctx.fx.tier
      ctx.plans = []
      await ctx.tier.start(recorder(ctx.plans))
    })
    afterEach(() => ctx.fx.cleanup())

    /** A second tier on the same store, started, or `undefined` when the fixture has none. */
    async function peer(): Promise<RemoteTier | undefined> {
      const other = await ctx.fx.peer?.()
      await other?.start(recorder([]))
      return other
    }

    /** Reads `key` (a miss), then writes `r` with that fence. */
    async function fill(key: string, r: StoredResponse = stored()): Promise<void> {
      const miss = asMiss(await ctx.tier.read(key, r.tags, noLock))
      expect(await ctx.tier.write(key, r, miss.fence)).toBe(true)
    }

    async function expectMiss(key: string, tags: readonly string[]): Promise<Miss> {
      return asMiss(await ctx.tier.read(key, tags, noLock))
    }

    storageCases(ctx)
    invalidationCases(ctx)
    lockCases(ctx)
    sharingCases(ctx, options)
  })
}
