import { randomBytes } from 'node:crypto'
import type { InvalidationPlan } from '@cachet/core/adapter'
import { type RedisTier, redisTier } from '@cachet/core/redis'
import { type LocalSentinel, startLocalSentinel } from '../redis-cluster/local-sentinel'
import { closedPort, runCli } from './run-cli'
import { lookup, putEntry } from './tier-entries'

// `cachet --redis sentinel://host:port/<master name>`: the CLI asks Sentinel for
// the master, as redisTier does; one live process (a started tier, 1 shard).

let sentinel: LocalSentinel | undefined
let tier: RedisTier | undefined
const applied: InvalidationPlan[] = []
const PREFIX = `cli-sentinel-${randomBytes(6).toString('hex')}`

beforeAll(async () => {
  sentinel = await startLocalSentinel()
  tier = redisTier({ client: sentinel.url, prefix: PREFIX, lease: '1s' })
  await tier.start({ onInvalidate: (plan) => applied.push(plan), onResync: () => {} })
}, 60_000)

afterAll(async () => {
  await tier?.close()
  await sentinel?.stop()
})

const url = () => (sentinel as LocalSentinel).url
const live = () => tier as RedisTier

test('invalidate: through the master Sentinel names, acknowledged; the entry is gone', async () => {
  await putEntry(live(), 'sentinel-1', ['cli:sentinel'])
  expect(await lookup(live(), 'sentinel-1', ['cli:sentinel'])).toBe('hit')
  const run = await runCli([
    'invalidate',
    '--tag',
    'cli:sentinel',
    '--redis',
    url(),
    '--prefix',
    PREFIX,
    '--lease',
    '1s',
  ])
  expect(run).toMatchObject({ code: 0, stderr: '' })
  expect(run.stdout).toMatch(
    /^invalidated tag cli:sentinel: durable in Redis \(bus seq \d+\), applied by 1 live process, in /,
  )
  expect(applied).toContainEqual({ tags: ['cli:sentinel'], patterns: [] })
  expect(await lookup(live(), 'sentinel-1', ['cli:sentinel'])).toBe('miss')
})

test('stats: the process, one shard, the entry keys (the invalidated one is still stored)', async () => {
  await putEntry(live(), 'sentinel-2', ['cli:sentinel'])
  const run = await runCli(['stats', '--redis', url(), '--prefix', PREFIX, '--json'])
  expect(run).toMatchObject({ code: 0, stderr: '' })
  const stats = JSON.parse(run.stdout)
  expect(stats).toMatchObject({ redis: url(), shards: 1, shardsSource: 'redis' })
  expect(stats.processes).toHaveLength(1)
  expect(stats.entries).toEqual({ count: 2, complete: true })
  const text = await runCli(['stats', '--redis', url(), '--prefix', PREFIX])
  expect(text.stdout).toMatch(/^shards\s+1 \(recorded in Redis\)$/m)
  expect(text.stdout).toMatch(/^entries\s+2 keys$/m)
})

test('a Sentinel nobody answers: exit 1 at once, one line', async () => {
  const port = await closedPort()
  const dead = `sentinel://127.0.0.1:${port}/cachet-test`
  const run = await runCli(['invalidate', '--tag', 'x', '--redis', dead])
  expect(run.code).toBe(1)
  expect(run.ms).toBeLessThan(4000)
  expect(run.stdout).toBe('')
  expect(run.stderr).toBe(
    `cachet invalidate: cannot connect to Redis at ${dead}: sentinel 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
  )
})

test('a master name Sentinel does not know: exit 1, one line', async () => {
  const unknown = url().replace(/\/[^/]+$/, '/no-such-master')
  const run = await runCli(['stats', '--redis', unknown])
  expect(run.code).toBe(1)
  expect(run.ms).toBeLessThan(4000)
  expect(run.stderr).toMatch(
    /^cachet stats: cannot connect to Redis at sentinel:\/\/.*: sentinel 127\.0\.0\.1:\d+ knows no master named "no-such-master"\n$/,
  )
})

test('a password in the URL is not printed', async () => {
  const port = await closedPort()
  const run = await runCli([
    'stats',
    '--redis',
    `sentinel://app:s3cret@127.0.0.1:${port}/cachet-test`,
  ])
  expect(run.code).toBe(1)
  expect(run.stderr).not.toContain('s3cret')
  expect(run.stderr).toContain(`sentinel://app:***@127.0.0.1:${port}/cachet-test`)
})

test('a malformed sentinel:// URL is a usage error', async () => {
  const run = await runCli(['stats', '--redis', 'sentinel://127.0.0.1/'])
  expect(run.code).toBe(2)
  expect(run.stderr).toMatch(/--redis: expected redis:\/\/host:port .*sentinel:\/\/host:port/)
})
