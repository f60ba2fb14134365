import fs from 'node:fs'
import { Cluster, Redis } from 'ioredis'
import type { RedisProcess } from '../support/redis/redis-server'
import { redisCommand } from '../support/redis/resp'
import { type LocalCluster, startLocalCluster } from './local-cluster'
import { type LocalSentinel, startLocalSentinel } from './local-sentinel'

// The failover kit itself: a six-node Redis Cluster (three masters, one replica
// each) whose masters are SIGKILLed and brought back, and a master, a replica and
// one Sentinel whose failovers go both ways. Both start side by side in beforeAll.

let cluster: LocalCluster | undefined
let sentinel: LocalSentinel | undefined
const timings: string[] = []
const clients: { disconnect(): void }[] = []
/** Error events of the ioredis clients (listened to, so that ioredis does not log them). */
const clientErrors: string[] = []

function theCluster(): LocalCluster {
  if (!cluster) throw new Error('the local cluster did not start')
  return cluster
}

function theSentinel(): LocalSentinel {
  if (!sentinel) throw new Error('the local sentinel did not start')
  return sentinel
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  const value = await fn()
  timings.push(`${label} ${Date.now() - t0} ms`)
  return value
}

beforeAll(async () => {
  const [c, s] = await Promise.allSettled([
    timed('cluster start (6 nodes)', () => startLocalCluster({ replicas: 1 })),
    timed('sentinel start', () => startLocalSentinel()),
  ])
  if (c.status === 'fulfilled') cluster = c.value
  if (s.status === 'fulfilled') sentinel = s.value
  if (c.status === 'rejected') throw c.reason
  if (s.status === 'rejected') throw s.reason
}, 60_000)

afterAll(async () => {
  for (const client of clients) client.disconnect()
  await Promise.all([cluster?.stop(), sentinel?.stop()])
  const errors = clientErrors.length ? `; ioredis error events: ${clientErrors.join(' | ')}` : ''
  console.log(`redis failover kit: ${timings.join(', ')}${errors}`)
})

/** The master port serving `key`'s slot, from CLUSTER SLOTS. */
async function masterOf(port: number, key: string): Promise<number> {
  const slot = Number(await redisCommand(port, ['CLUSTER', 'KEYSLOT', key]))
  const ranges = (await redisCommand(port, ['CLUSTER', 'SLOTS'])) as [number, number, unknown[]][]
  const range = ranges.find(([from, to]) => from <= slot && slot <= to)
  if (!range) throw new Error(`no node serves slot ${slot}`)
  return Number(range[2][1])
}

describe('local cluster with one replica per master', () => {
  test('starts three masters, each with one replica', async () => {
    const c = theCluster()
    expect(c.nodes).toHaveLength(6)
    expect(c.seeds.split(',')).toHaveLength(6)
    for (const seed of c.seeds.split(',')) expect(seed).toMatch(/^127\.0\.0\.1:\d+$/)

    const roles = await c.roles()
    expect(roles.map((r) => r.port).sort()).toEqual(c.nodes.map((n) => n.port).sort())
    const masters = roles.filter((r) => r.role === 'master')
    const replicas = roles.filter((r) => r.role === 'replica')
    expect(masters).toHaveLength(3)
    expect(replicas).toHaveLength(3)
    expect(masters.reduce((sum, m) => sum + m.slots, 0)).toBe(16384)
    for (const m of masters) expect(m.slots).toBeGreaterThan(0)
    expect(replicas.map((r) => r.masterPort).sort()).toEqual(masters.map((m) => m.port).sort())
    for (const r of [...masters, ...replicas]) expect(r.failed).toBe(false)
  })

  test('killMaster promotes the replica; a key written before is still there', async () => {
    const c = theCluster()
    const nodes = c.seeds
      .split(',')
      .map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) }))
    const client = new Cluster(nodes)
    clients.push(client)
    client.on('error', (err: Error) => clientErrors.push(`cluster: ${err.message}`))
    const key = `infra:failover:${Date.now()}`
    await client.set(key, 'before')
    const masterPort = await masterOf(c.nodes[0]!.port, key)
    // The write is on the replica before the master dies (WAIT on the very connection).
    const conn = client.nodes('master').find((n) => n.options.port === masterPort)
    expect(await conn?.wait(1, 2000)).toBe(1)

    const before = await c.roles()
    const replica = before.find((r) => r.role === 'replica' && r.masterPort === masterPort)
    const killedPid = c.nodes.find((n) => n.port === masterPort)?.pid as number

    const result = await c.killMaster(masterPort)
    timings.push(`killMaster promotion ${result.ms} ms`)
    expect(result).toEqual({ killed: masterPort, promoted: replica?.port, ms: expect.any(Number) })
    expect(alive(killedPid)).toBe(false)

    const after = await c.roles()
    const promoted = after.find((r) => r.port === result.promoted)
    expect(promoted).toMatchObject({ role: 'master', failed: false })
    expect(promoted?.slots).toBe(before.find((r) => r.port === masterPort)?.slots)
    expect(after.find((r) => r.port === result.killed)).toMatchObject({ failed: true, slots: 0 })
    expect(after.filter((r) => r.role === 'master' && !r.failed)).toHaveLength(3)

    // The same client, through the failover: the key, and a new write on that slot.
    const read = await timed('ioredis Cluster GET after killMaster', () => client.get(key))
    expect(read).toBe('before')
    await client.set(key, 'after')
    expect(await redisCommand(result.promoted, ['GET', key])).toBe('after')
  })

  test('restartNode brings the killed master back as a replica of the promoted one', async () => {
    const c = theCluster()
    const killed = c.nodes.find((n) => !n.alive)
    expect(killed).toBeDefined()
    const port = (killed as RedisProcess).port
    const before = await c.roles()
    const promoted = before.find((r) => r.role === 'master' && r.slots > 0 && !r.failed)
    expect(promoted).toBeDefined()

    const { ms } = await c.restartNode(port)
    timings.push(`restartNode rejoin ${ms} ms`)
    expect((killed as RedisProcess).alive).toBe(true)
    const after = await c.roles()
    const back = after.find((r) => r.port === port)
    expect(back).toMatchObject({ role: 'replica', failed: false, slots: 0 })
    // A replica of the node that took its slots over.
    const master = after.find((r) => r.port === back?.masterPort)
    expect(master).toMatchObject({ role: 'master', failed: false })
    expect(master?.slots).toBeGreaterThan(0)
    expect(after.filter((r) => r.role === 'master')).toHaveLength(3)
    expect(after.filter((r) => r.role === 'replica')).toHaveLength(3)
  })

  test('killMaster refuses a port that is not a master, in one line', async () => {
    const c = theCluster()
    const replica = (await c.roles()).find((r) => r.role === 'replica')
    await expect(c.killMaster(replica?.port)).rejects.toThrow(
      /^killMaster: :\d+ is not a live master/,
    )
  })
})

describe('local sentinel', () => {
  test('reports its master; failover() swaps master and replica, and back', async () => {
    const s = theSentinel()
    const [first, second] = s.servers as [RedisProcess, RedisProcess]
    expect(s.name).toBe('cachet-test')
    expect(s.url).toBe(`sentinel://127.0.0.1:${s.sentinelPort}/cachet-test`)
    expect(s.sentinel.port).toBe(s.sentinelPort)
    expect(await s.master()).toBe(first.port)
    expect(await redisCommand(first.port, ['ROLE'])).toEqual([
      'master',
      expect.any(Number),
      expect.any(Array),
    ])

    // An ioredis client that finds the master through the Sentinel, across both failovers.
    // With one sentinel, every reconnect (the failover's CLIENT KILL) first emits
    // "All sentinels are unreachable", then connects 10 ms later: ioredis resumes its
    // sentinel list where the last connect left it, at the end.
    const client = new Redis({
      sentinels: [{ host: '127.0.0.1', port: s.sentinelPort }],
      name: s.name,
    })
    clients.push(client)
    client.on('error', (err: Error) => clientErrors.push(`sentinel: ${err.message}`))
    await client.set('infra:sentinel', 'one')
    expect(await client.wait(1, 2000)).toBe(1)

    const there = await s.failover()
    timings.push(`sentinel failover ${there.ms} ms`)
    expect(there).toEqual({ from: first.port, to: second.port, ms: expect.any(Number) })
    expect(await s.master()).toBe(second.port)
    expect((await redisCommand(second.port, ['ROLE'])) as unknown[]).toHaveProperty('0', 'master')
    expect(await redisCommand(first.port, ['ROLE'])).toEqual([
      'slave',
      '127.0.0.1',
      second.port,
      'connected',
      expect.any(Number),
    ])
    expect(
      await timed('ioredis sentinel GET after failover', () => client.get('infra:sentinel')),
    ).toBe('one')
    await client.set('infra:sentinel', 'two')
    expect(await redisCommand(second.port, ['GET', 'infra:sentinel'])).toBe('two')
    expect(await client.wait(1, 2000)).toBe(1)

    const back = await s.failover()
    timings.push(`sentinel failover back ${back.ms} ms`)
    expect(back).toEqual({ from: second.port, to: first.port, ms: expect.any(Number) })
    expect(await s.master()).toBe(first.port)
    expect((await redisCommand(first.port, ['ROLE'])) as unknown[]).toHaveProperty('0', 'master')
    expect((await redisCommand(second.port, ['ROLE'])) as unknown[]).toHaveProperty('0', 'slave')
    expect(await client.get('infra:sentinel')).toBe('two')
  })
})

test('stop() leaves no process running and removes the dirs', async () => {
  const c = theCluster()
  const s = theSentinel()
  const processes = [...c.nodes, ...s.servers, s.sentinel]
  expect(processes).toHaveLength(9)
  const pids = processes.map((p) => p.pid)
  for (const pid of pids) expect(alive(pid)).toBe(true)
  for (const client of clients.splice(0)) client.disconnect()

  await Promise.all([c.stop(), s.stop()])
  expect(c.nodes).toHaveLength(0)
  for (const pid of pids) expect(alive(pid)).toBe(false)
  for (const p of processes) {
    expect(p.alive).toBe(false)
    expect(fs.existsSync(p.dir)).toBe(false)
  }
  await Promise.all([c.stop(), s.stop()]) // idempotent
})
