import { randomBytes } from 'node:crypto'
import type { InvalidationPlan } from '@cachet/core'
import { type RedisTier, redisTier } from '@cachet/core/redis'
import { type LocalCluster, startLocalCluster } from '../redis-cluster/local-cluster'
import { runCli } from './run-cli'

// `cachet --redis host:port,host:port,...`: the same commands on a real Redis
// Cluster (three masters on loopback), with one live process (a started tier).

let cluster: LocalCluster | undefined
let tier: RedisTier | undefined
const applied: InvalidationPlan[] = []
const PREFIX = `cli-cluster-${randomBytes(6).toString('hex')}`

beforeAll(async () => {
  cluster = await startLocalCluster()
  tier = redisTier({ client: cluster.seeds, prefix: PREFIX, lease: '1s' })
  await tier.start({ onInvalidate: (plan) => applied.push(plan), onResync: () => {} })
}, 60_000)

afterAll(async () => {
  await tier?.close()
  await cluster?.stop()
})

const seeds = () => (cluster as LocalCluster).seeds

test('invalidate: acknowledged by the live process', async () => {
  const run = await runCli([
    'invalidate',
    '--tag',
    'product:1',
    '--user',
    'u1',
    '--redis',
    seeds(),
    '--prefix',
    PREFIX,
    '--lease',
    '1s',
  ])
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  expect(run.stdout).toMatch(/applied by 1 live process, in /)
  expect(applied).toContainEqual({ tags: ['product:1', '#user:u1'], patterns: [] })
})

test('stats: the process, and the entry count over every master', async () => {
  const run = await runCli(['stats', '--redis', seeds(), '--prefix', PREFIX, '--json'])
  expect(run.code).toBe(0)
  const stats = JSON.parse(run.stdout)
  expect(stats.processes).toHaveLength(1)
  expect(stats.entries).toEqual({ count: 0, complete: true })
  expect(stats.memory.usedBytes).toBeGreaterThan(0)
})
