import { randomBytes } from 'node:crypto'
import { coherenceSuite } from '../cluster/coherence-suite'
import { stampedeSuite } from '../cluster/stampede-suite'
import { runScenario } from '../parity/run-scenario'
import { type Scenario, scenarios } from '../parity/scenarios'
import { adapters } from '../support/shops'
import { type LocalCluster, startLocalCluster } from './local-cluster'

// The Redis issue's promises on a real Redis Cluster (three masters on loopback,
// the keyspace in the default 12 shards): the parity table on both shops, the
// multi-process coherence rounds, and the cross-process stampede — the same
// suites as on one Redis, with REDIS_URL set to the cluster's seeds.

let cluster: LocalCluster | undefined

beforeAll(async () => {
  cluster = await startLocalCluster()
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

function seeds(): string {
  if (cluster === undefined) throw new Error('the local cluster did not start')
  return cluster.seeds
}

describe('parity table', () => {
  describe.each(adapters)('$name shop', ({ createShop }) => {
    const mine = scenarios.filter((s) => s.stores === undefined || s.stores.includes('redis'))
    test.each(mine)('$row: $name', (scenario: Scenario) =>
      runScenario(createShop, scenario, {
        redisUrl: seeds(),
        redisPrefix: `parity-${randomBytes(6).toString('hex')}`,
        redisLease: '200ms',
      }),
    )
  })
})

describe('coherence across two processes', () => {
  coherenceSuite(seeds, 'cluster-coherence')
})

describe('stampede across two processes', () => {
  stampedeSuite(seeds, 'cluster-stampede')
})
