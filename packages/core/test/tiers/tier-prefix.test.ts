import Keyv from 'keyv'
import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError } from '../../src/errors'
import { keyvTier } from '../../src/keyv'
import type { CacheRule } from '../../src/rules/types'
import { TierPrefix, type TierScope } from '../../src/tiers/tier-prefix'
import { FakeOrigin, request, sleep, thrown } from '../support'

// What a shared tier's keys are prefixed with: its own `prefix`, else the
// namespace of the engine it serves; see test/redis-namespace for Redis.

const ns = (namespace: string): TierScope => ({ namespace, explicit: true })
const unset: TierScope = { namespace: 'cachet', explicit: false }

interface Case {
  name: string
  prefix?: string
  attach: TierScope[]
  /** The prefix, or the error's message. */
  expect: string | RegExp
}

const cases: Case[] = [
  { name: 'neither set: the layout of old', attach: [unset], expect: 'cachet' },
  { name: 'used without an engine (the CLI)', attach: [], expect: 'cachet' },
  { name: 'a namespace alone', attach: [ns('shop')], expect: 'shop' },
  { name: 'a prefix alone', prefix: 'legacy', attach: [unset], expect: 'legacy' },
  { name: 'both, the same', prefix: 'shop', attach: [ns('shop')], expect: 'shop' },
  {
    name: 'both, different',
    prefix: 'other',
    attach: [ns('mine')],
    expect: /^option "namespace": "mine" disagrees with redisTier\(\{ prefix: "other" \}\)/,
  },
  { name: 'two engines, one namespace', attach: [ns('shop'), ns('shop')], expect: 'shop' },
  {
    name: 'two engines, two namespaces',
    attach: [ns('a'), ns('b')],
    expect: /"b": this redisTier\(\.\.\.\) is already attached to namespace "a"/,
  },
  {
    name: 'two engines, the default and a namespace',
    prefix: 'p',
    attach: [unset, ns('p')],
    expect: /already attached to namespace "cachet"/,
  },
]

describe.each(cases)('TierPrefix: $name', ({ prefix, attach, expect: want }) => {
  test(typeof want === 'string' ? `is "${want}"` : 'is refused', () => {
    const p = new TierPrefix('redisTier', prefix)
    const run = () => {
      for (const scope of attach) p.attach(scope)
      return p.value
    }
    if (typeof want === 'string') {
      expect(run()).toBe(want)
    } else {
      const err = thrown(run)
      expect(err).toBeInstanceOf(CachetConfigError)
      expect(err.code).toBe('CACHET_INVALID_OPTION')
      expect(err.message).toMatch(want)
    }
  })
})

test('TierPrefix: once used, a tier without a prefix refuses another namespace', () => {
  const p = new TierPrefix('keyvTier', undefined)
  expect(p.value).toBe('cachet')
  expect(thrown(() => p.attach(ns('late'))).message).toMatch(
    /this keyvTier\(\.\.\.\) is already in use under prefix "cachet"/,
  )
})

describe('keyvTier: two namespaces on one Keyv', () => {
  const rules: CacheRule[] = [{ name: 'list', path: '/products', ttl: 60, tags: ['products'] }]

  test("A's invalidation and purge leave B's entries alone", async () => {
    const store = new Keyv()
    const tierA = keyvTier({ store })
    const tierB = keyvTier({ store })
    // No memory tier (keyv without l1.maxTtl): every hit is read from the Keyv.
    const a = new CacheEngine({ rules, namespace: 'a', store: { l2: tierA } })
    const b = new CacheEngine({ rules, namespace: 'b', store: { l2: tierB } })
    const originA = new FakeOrigin()
    const originB = new FakeOrigin()
    try {
      expect(tierA.prefix).toBe('a')
      expect(tierB.prefix).toBe('b')
      for (const [engine, origin] of [
        [a, originA],
        [b, originB],
      ] as const) {
        expect((await request(engine, origin, '/products')).outcome).toBe('miss')
        await sleep(20)
        expect((await request(engine, origin, '/products')).outcome).toBe('hit')
      }
      const keys = [...(store.opts.store as Map<string, unknown>).keys()]
      expect(keys.some((k) => k.includes('a:t:products'))).toBe(true)
      expect(keys.some((k) => k.includes('b:t:products'))).toBe(true)

      await a.invalidate({ tags: ['products'] })
      expect((await request(a, originA, '/products')).outcome).toBe('miss')
      expect((await request(b, originB, '/products')).outcome).toBe('hit')
      await a.purge()
      expect((await request(b, originB, '/products')).outcome).toBe('hit')
      expect([originA.calls, originB.calls]).toEqual([2, 1])
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
