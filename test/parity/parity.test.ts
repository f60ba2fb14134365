import { randomBytes } from 'node:crypto'
import { sharedRedisUrl } from '../support/redis/shared'
import { adapters, type ShopConfig } from '../support/shops'
import { runScenario } from './run-scenario'
import { type Scenario, type StoreName, scenarios } from './scenarios'

interface Store {
  name: StoreName
  config: () => Partial<ShopConfig>
}

// The same table on the memory tier alone, and on memory L1 + Redis L2 with
// the Redis bus (each scenario under its own key prefix on the shared server).
const stores: Store[] = [
  { name: 'memory', config: () => ({}) },
  {
    name: 'redis',
    // A new keyspace makes its first invalidations wait out one lease (the
    // processes of a keyspace that was reborn are unknown): keep it short here.
    config: () => ({
      redisUrl: sharedRedisUrl(),
      redisPrefix: `parity-${randomBytes(6).toString('hex')}`,
      redisLease: '200ms',
    }),
  },
]

// One scenario table, both shops, real HTTP on loopback (CONTRACT.md).
describe.each(stores)('$name store', (store) => {
  describe.each(adapters)('$name shop', ({ createShop }) => {
    const mine = scenarios.filter((s) => s.stores === undefined || s.stores.includes(store.name))
    test.each(mine)('$row: $name', (scenario: Scenario) =>
      runScenario(createShop, scenario, store.config()),
    )
  })
})
