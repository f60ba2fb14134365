import { randomBytes } from 'node:crypto'
import { redisTier } from '@cachet/core/redis'
import { engineContract, tierContract } from '@cachet/core/testing'
import { Cluster } from 'ioredis'
import { type LocalCluster, startLocalCluster } from './local-cluster'

// The Redis tier on a real Redis Cluster (three masters on loopback): the
// keyspace in 12 shards (the default on a Cluster), each under its own hash
// tag, so each script touches a single slot; pub/sub is the cluster's. The
// same contract suites as on one Redis.
let cluster: LocalCluster | undefined
const seeds = () => {
  if (cluster === undefined) throw new Error('the local cluster did not start')
  return cluster.seeds
}

beforeAll(async () => {
  cluster = await startLocalCluster()
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

const LEASE = '200ms'
// The contract is not about deadlines: a cold cluster client on a busy
// machine may take longer than the 50 ms default for its first reads.
const timeouts = { read: '1s' }
const unique = () => `cluster-${randomBytes(6).toString('hex')}`

tierContract(
  'redis cluster (seeds string)',
  async () => {
    const prefix = unique()
    const tiers = [redisTier({ client: seeds(), prefix, lease: LEASE, timeouts })]
    return {
      tier: tiers[0] as ReturnType<typeof redisTier>,
      peer: async () => {
        const peer = redisTier({ client: seeds(), prefix, lease: LEASE, timeouts })
        tiers.push(peer)
        return peer
      },
      cleanup: async () => {
        for (const t of tiers) await t.close()
      },
    }
  },
  { coherent: true },
)

engineContract('redis cluster (a Cluster client)', async () => {
  const prefix = unique()
  const nodes = seeds()
    .split(',')
    .map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) }))
  const clients: Cluster[] = []
  const tier = () => {
    const client = new Cluster(nodes, { enableOfflineQueue: true })
    clients.push(client)
    return redisTier({ client, prefix, lease: LEASE, timeouts })
  }
  return {
    options: { store: { l2: tier() } },
    peer: async () => ({ store: { l2: tier() } }),
    cleanup: async () => {
      for (const c of clients) c.disconnect()
    },
  }
})
