import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import Keyv from 'keyv'
import { Keyv as Keyv6, KeyvJsonSerializer } from 'keyv6'
import { sharedRedisUrl } from '../../../../test/support/redis/shared'
import { CachetConfigError } from '../../src/errors'
import { type KeyvStore, keyvTier } from '../../src/keyv'
import { KeyvKeyspace } from '../../src/keyv/keyspace'
import { redisTier } from '../../src/redis'
import { type Keyspace, shardIndex, shardKeyspaces } from '../../src/redis/keyspace'
import { engineContract, type TierFixture, tierContract } from '../../src/testing'
import type { RemoteTier } from '../../src/tiers/remote-tier'

// A new keyspace makes its first invalidations wait out one lease (the processes of
// a reborn keyspace are unknown); every test here starts one, so keep it short.
const LEASE = '200ms'

const unique = (what: string) => `${what}-${randomBytes(6).toString('hex')}`

/** Tiers a fixture opened; closed by its cleanup. */
function closer(): { track<T extends RemoteTier>(tier: T): T; closeAll(): Promise<void> } {
  const open: RemoteTier[] = []
  return {
    track: (tier) => {
      open.push(tier)
      return tier
    },
    closeAll: async () => {
      for (const t of open.splice(0)) await t.close()
    },
  }
}

async function redisFixture(shards = 1): Promise<TierFixture> {
  const prefix = unique('contract')
  const spaces = shardKeyspaces(prefix, shards)
  const entryKey = (key: string) => {
    const h = (spaces[0] as Keyspace).hash(key)
    return (spaces[shardIndex(h, shards)] as Keyspace).entry(h)
  }
  const raw = new Redis(sharedRedisUrl(), { lazyConnect: true })
  const tiers = closer()
  const make = () => redisTier({ client: sharedRedisUrl(), prefix, lease: LEASE, shards })
  return {
    tier: tiers.track(make()),
    peer: async () => tiers.track(make()),
    corrupt: async (key, bytes) => {
      await raw.set(entryKey(key), bytes, 'PX', 60_000)
    },
    hasEntry: async (key) => (await raw.exists(entryKey(key))) === 1,
    cleanup: async () => {
      await tiers.closeAll()
      raw.disconnect()
    },
  }
}

/** A Keyv 5 or Keyv 6 instance: the tier accepts both (the peer range). */
async function keyvFixture(store: KeyvStore = new Keyv()): Promise<TierFixture> {
  const prefix = unique('contract')
  const keys = new KeyvKeyspace(prefix)
  const tiers = closer()
  return {
    tier: tiers.track(keyvTier({ store, prefix })),
    peer: async () => tiers.track(keyvTier({ store, prefix })),
    // The Keyv tier stores the envelope as base64 (see keyv-tier.ts).
    corrupt: async (key, bytes) => {
      await store.set(keys.entry(keys.hash(key)), bytes.toString('base64'), 60_000)
    },
    hasEntry: async (key) => (await store.get(keys.entry(keys.hash(key)))) !== undefined,
    cleanup: () => tiers.closeAll(),
  }
}

tierContract('redis', () => redisFixture(), { coherent: true })
// Four shards on one server: each entry in one, every invalidation in all.
tierContract('redis, 4 shards', () => redisFixture(4), { coherent: true })
tierContract('keyv', () => keyvFixture(), { coherent: false })
// A store whose serializer would not round-trip a Buffer (JSON.stringify writes
// an array of numbers): the tier stores strings, so it does not matter.
tierContract(
  'keyv (JSON serializer)',
  () => keyvFixture(new Keyv({ serialize: JSON.stringify, deserialize: JSON.parse })),
  { coherent: false },
)
// Keyv 6 (installed as `keyv6`): its default serializer, and one that writes plain JSON.
tierContract('keyv 6', () => keyvFixture(new Keyv6()), { coherent: false })
tierContract(
  'keyv 6 (JSON serializer)',
  () => keyvFixture(new Keyv6({ serialization: new KeyvJsonSerializer() })),
  { coherent: false },
)

engineContract('memory', async () => ({ options: {} }))
engineContract('memory + redis', async () => {
  const prefix = unique('engine')
  return {
    options: { store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: LEASE }) } },
    peer: async () => ({
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: LEASE }) },
    }),
  }
})
engineContract('keyv (no memory tier)', async () => {
  const store = new Keyv()
  return {
    options: { store: { l2: keyvTier({ store }) } },
    peer: async () => ({ store: { l2: keyvTier({ store }) } }),
  }
})
engineContract('keyv 6 (no memory tier)', async () => {
  const store = new Keyv6()
  return {
    options: { store: { l2: keyvTier({ store }) } },
    peer: async () => ({ store: { l2: keyvTier({ store }) } }),
  }
})
engineContract('memory (maxTtl) + keyv', async () => {
  const store = new Keyv()
  return {
    options: { store: { l1: { maxTtl: '300ms' }, l2: keyvTier({ store }) } },
    peer: async () => ({ store: { l1: { maxTtl: '300ms' }, l2: keyvTier({ store }) } }),
  }
})

describe('keyvTier() options', () => {
  const store = new Keyv()
  test.each<[string, unknown, RegExp]>([
    ['no options', undefined, /option "options": expected an object, got undefined$/],
    [
      'no store',
      {},
      /option "store": expected a Keyv instance \(new Keyv\(\.\.\.\)\), got undefined$/,
    ],
    [
      'a Map',
      { store: new Map() },
      /option "store": expected a Keyv instance \(new Keyv\(\.\.\.\)\), got a Map$/,
    ],
    ['an unknown option', { store, ttl: 5 }, /option "ttl": unknown option \(expected one of /],
    ['a bad prefix', { store, prefix: 'a b' }, /option "prefix": expected 1 to 64 .*got "a b"$/],
    ['a zero lockTtl', { store, lockTtl: 0 }, /option "lockTtl": expected more than 0, got 0$/],
    ['a bad tagTtl', { store, tagTtl: 'soon' }, /option "tagTtl": expected seconds .*got "soon"$/],
    ['a bad timeout', { store, timeouts: { read: -1 } }, /option "timeouts.read": .*got -1$/],
    ['a bad log size', { store, patternLogSize: 0 }, /option "patternLogSize": .*got 0$/],
  ])('%s', (_, options, message) => {
    let error: unknown
    try {
      keyvTier(options as Parameters<typeof keyvTier>[0])
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(CachetConfigError)
    expect((error as CachetConfigError).code).toBe('CACHET_INVALID_OPTION')
    expect((error as Error).message).toMatch(/^keyvTier\(\): /)
    expect((error as Error).message).toMatch(message)
  })

  test('valid options', () => {
    const tier = keyvTier({ store, prefix: 'app:1', lockTtl: '2s', tagTtl: '7d' })
    expect(tier.name).toBe('keyv')
    expect(tier.coherent).toBe(false)
  })

  test('a Keyv 6 instance is a store; a bare Keyv 6 storage adapter is not', () => {
    expect(keyvTier({ store: new Keyv6() }).name).toBe('keyv')
    const adapter = new Keyv6().store
    expect(() => keyvTier({ store: adapter as unknown as Keyv6 })).toThrow(
      /option "store": expected a Keyv instance \(new Keyv\(\.\.\.\)\), got /,
    )
  })
})

test('keyv: an invalidation the store refuses rejects with CACHET_INVALIDATION_FAILED', async () => {
  const store = new Keyv()
  store.set = async () => false
  const tier = keyvTier({ store })
  await expect(tier.invalidate({ tags: ['a'], patterns: [] })).rejects.toMatchObject({
    name: 'CachetInvalidationError',
    code: 'CACHET_INVALIDATION_FAILED',
  })
  store.set = async () => {
    throw new Error('store down')
  }
  await expect(tier.invalidate({ tags: [], patterns: ['/a'] })).rejects.toThrow(/store down/)
})
