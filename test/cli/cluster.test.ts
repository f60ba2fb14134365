import { randomBytes } from 'node:crypto'
import type { InvalidationPlan } from '@cachet/core/adapter'
import { RedisKeyspace, type RedisTier, redisTier } from '@cachet/core/redis'
import { Cluster } from 'ioredis'
import { type LocalCluster, startLocalCluster } from '../redis-cluster/local-cluster'
import { runCli } from './run-cli'
import { keysOverShards, lookup, putEntry, shardOf } from './tier-entries'

// `cachet --redis host:port,host:port,...`: the same commands on a real Redis
// Cluster (three masters on loopback), with one live process (a started tier,
// with redisTier's default of 12 shards on a Cluster).

let cluster: LocalCluster | undefined
let tier: RedisTier | undefined
const applied: InvalidationPlan[] = []
const PREFIX = `cli-cluster-${randomBytes(6).toString('hex')}`
const SHARDS = 12

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
const live = () => tier as RedisTier
const oneLine = (text: string) => text.trim().split('\n').length === 1

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
  expect(run.stdout).toMatch(/\(bus seq \d+, 12 shards\), applied by 1 live process, in /)
  expect(applied).toContainEqual({ tags: ['product:1', '#user:u1'], patterns: [] })
})

test('stats: the process, the shard count Redis records, and no entry yet', async () => {
  const run = await runCli(['stats', '--redis', seeds(), '--prefix', PREFIX, '--json'])
  expect(run.code).toBe(0)
  const stats = JSON.parse(run.stdout)
  expect(stats.processes).toHaveLength(1)
  expect(stats).toMatchObject({ shards: SHARDS, shardsSource: 'redis' })
  // Two tags invalidated (product:1 and #user:u1), but no fill had created a record
  // of either: an invalidation only moves records that exist, so none was issued.
  expect(stats.tagVersionsIssued).toBe(0)
  expect(stats.entries).toEqual({ count: 0, complete: true })
  expect(stats.memory.usedBytes).toBeGreaterThan(0)
})

describe('entries in every shard', () => {
  const keys = keysOverShards('stats', 6, SHARDS)
  const tags = ['cli:stats']

  beforeAll(async () => {
    for (const key of keys) await putEntry(live(), key, tags)
    // Keys the count must leave out, each caught by the SCAN glob: another prefix
    // that starts with this one, and tag keys whose tag holds "}:e:".
    const client = new Cluster(
      seeds()
        .split(',')
        .map((seed) => ({ host: '127.0.0.1', port: Number(seed.split(':')[1]) })),
    )
    try {
      const hash = new RedisKeyspace('x').hash('decoy')
      await client.set(`{${PREFIX}2}:e:${hash}`, 'x')
      await client.set(`{${PREFIX}}:t:a}:e:${hash}`, 'x')
      await client.set(`{${PREFIX}#1}:t:a}:e:b`, 'x')
    } finally {
      client.disconnect()
    }
  })

  test('the keys really are in several shards, the home and others', () => {
    const shards = new Set(keys.map((k) => shardOf(k, SHARDS)))
    expect(shards.has(0)).toBe(true)
    expect(shards.size).toBe(keys.length)
  })

  test('stats counts them all, over every master, and nothing else', async () => {
    const run = await runCli(['stats', '--redis', seeds(), '--prefix', PREFIX, '--json'])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    const stats = JSON.parse(run.stdout)
    expect(stats.entries).toEqual({ count: keys.length, complete: true })
    expect(stats.shards).toBe(SHARDS)

    const text = await runCli(['stats', '--redis', seeds(), '--prefix', PREFIX])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^shards\s+12 \(recorded in Redis\)$/m)
    expect(text.stdout).toMatch(new RegExp(`^entries\\s+${keys.length} keys in 12 shards$`, 'm'))
    expect(text.stdout).toContain(`(keys {${PREFIX}}:* and {${PREFIX}#N}:*)`)

    // --shards that agrees with Redis is accepted.
    const agreed = await runCli([
      'stats',
      '--redis',
      seeds(),
      '--prefix',
      PREFIX,
      '--shards',
      '12',
      '--json',
    ])
    expect(agreed.code).toBe(0)
    expect(JSON.parse(agreed.stdout).entries.count).toBe(keys.length)
  })

  test('invalidate: acknowledged, and every shard’s entries are gone (the home’s and the others’)', async () => {
    for (const key of keys) expect(await lookup(live(), key, tags)).toBe('hit')
    const run = await runCli([
      'invalidate',
      '--tag',
      'cli:stats',
      '--redis',
      seeds(),
      '--prefix',
      PREFIX,
      '--lease',
      '1s',
    ])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toMatch(
      /^invalidated tag cli:stats: durable in Redis \(bus seq \d+, 12 shards\), applied by 1 live process, in /,
    )
    expect(applied).toContainEqual({ tags: ['cli:stats'], patterns: [] })
    for (const key of keys) expect(await lookup(live(), key, tags)).toBe('miss')
  })
})

describe('--shards', () => {
  const redis = () => ['--redis', seeds(), '--prefix', PREFIX]

  test.each([
    ['invalidate', ['invalidate', '--tag', 'x']],
    ['stats', ['stats']],
  ])('%s: a count that disagrees with Redis exits 1, one line naming both', async (_, args) => {
    const run = await runCli([...args, ...redis(), '--shards', '3'])
    expect(run.code).toBe(1)
    expect(run.stdout).toBe('')
    expect(oneLine(run.stderr)).toBe(true)
    expect(run.stderr).toMatch(
      new RegExp(
        `^cachet ${args[0]}: --shards 3 disagrees with Redis: prefix ${PREFIX} is in use with 12 shards`,
      ),
    )
  })

  test('an unused prefix: the default on a Cluster (12), or --shards', async () => {
    const fresh = ['--redis', seeds(), '--prefix', `${PREFIX}-unused`, '--json']
    const byDefault = await runCli(['stats', ...fresh])
    expect(byDefault.code).toBe(0)
    expect(JSON.parse(byDefault.stdout)).toMatchObject({
      epoch: null,
      shards: 12,
      shardsSource: 'default',
    })
    const given = await runCli(['stats', ...fresh, '--shards', '4'])
    expect(given.code).toBe(0)
    expect(JSON.parse(given.stdout)).toMatchObject({ shards: 4, shardsSource: 'flag' })
  })

  test.each([
    ['0', ['invalidate', '--tag', 'x']],
    ['1025', ['stats']],
    ['two', ['stats']],
    ['-1', ['invalidate', '--tag', 'x']],
  ])('a bad value (%s) exits 2, naming the flag', async (value, args) => {
    const run = await runCli([...args, ...redis(), `--shards=${value}`])
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(oneLine(run.stderr)).toBe(true)
    expect(run.stderr).toContain(
      `--shards: expected a whole number from 1 to 1024, got "${value}" (see cachet ${args[0]} --help)`,
    )
  })

  test('with --admin: a usage error', async () => {
    const run = await runCli([
      'stats',
      '--admin',
      'http://127.0.0.1:1',
      '--token',
      't',
      '--shards',
      '2',
    ])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/--shards goes with --redis, not --admin/)
  })
})
