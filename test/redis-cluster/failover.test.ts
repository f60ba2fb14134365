import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { slotOf } from '@cachet/core/redis'
import { originCalls, type Pair, product, Rounds, startPair } from '../cluster/cluster'
import { sleep } from '../cluster/http'
import { type LoadResult, runLoad } from '../support/faults/load'
import { shopEntry } from '../support/processes'
import { waitFor } from '../support/redis/redis-server'
import { redisCommand } from '../support/redis/resp'
import { type LocalCluster, startLocalCluster } from './local-cluster'
import { type LocalSentinel, startLocalSentinel } from './local-sentinel'

// A failover under bounded load, on two shop processes (A = Express, where every
// write goes; B = Koa) with CACHE_REDIS_WAIT=1: each invalidation is acknowledged
// by a replica (Redis WAIT) before it is reported done. The promises: no read
// answers a 5xx or fails while a master dies and its replica takes over; no read
// on B is stale after a write on A answered 200, before, during or after the
// failover; once it is over, B shares A's fills through Redis again.

const CONCURRENCY = 16
const MAX_REQUESTS = 200_000
/** A read with no answer by then counts as a timeout (the fill lock's lifetime is 5 s). */
const READ_TIMEOUT_MS = 5000
/** The load goes on this long after the failover is complete. */
const AFTER_MS = 1500
/** Bounds the whole load, whatever the failover does. */
const MAX_LOAD_MS = 40_000
const MAX_ROUNDS = 300
const CLEAN_ROUNDS = 10
const HOT_PATHS = ['/products/1', '/products/2', '/products/3', '/products?page=2', '/slow/3']

let pair: Pair | undefined
let cluster: LocalCluster | undefined
let sentinel: LocalSentinel | undefined

beforeAll(() => {
  shopEntry('express')
  shopEntry('koa')
})

afterEach(async () => {
  try {
    await pair?.stop()
  } finally {
    await cluster?.stop()
    await sentinel?.stop()
    pair = undefined
    cluster = undefined
    sentinel = undefined
  }
})

function statuses(r: LoadResult): string {
  return Object.entries(r.byStatus)
    .map(([s, n]) => `${s}×${n}`)
    .join(',')
}

/**
 * Read load at both processes and write-then-read rounds (products the load
 * never reads) from before `failover` until AFTER_MS after it returns; then
 * clean rounds that must all succeed and share through Redis.
 */
async function underLoad(
  name: string,
  p: Pair,
  failover: (refused: () => number) => Promise<string>,
): Promise<void> {
  let over = false
  let stop: () => void = () => {}
  const until = new Promise<void>((resolve) => {
    stop = resolve
  })
  // One round first: a new keyspace's first invalidation waits out a lease
  // (the processes of a keyspace younger than a lease are unknown).
  const warm = new Rounds(p, { retryWritesForMs: 10_000 })
  await warm.round(product(100))
  expect(warm.violations(true)).toEqual({ counts: {}, details: [] })
  const originBefore = (await originCalls(p, p.a)) + (await originCalls(p, p.b))
  const load = runLoad({
    targets: [p.a.url, p.b.url],
    paths: HOT_PATHS,
    concurrency: CONCURRENCY,
    durationMs: MAX_LOAD_MS,
    maxRequests: MAX_REQUESTS,
    timeoutMs: READ_TIMEOUT_MS,
    until,
    slowMs: 500,
    maxErrors: 20,
  })
  const rounds = new Rounds(p, { refusalsAllowed: true, writeTimeoutMs: 10_000 })
  const refused = () => rounds.write503
  const roundsDone = (async () => {
    for (let i = 0; i < MAX_ROUNDS && !over; i++) await rounds.round(product(101 + (i % 100)))
  })()
  await sleep(500)
  const started = Date.now()
  const note = await failover(refused)
  const failoverMs = Date.now() - started
  await sleep(AFTER_MS)
  over = true
  stop()
  const [reads] = await Promise.all([load, roundsDone])

  // Once it is over: every write answers 200 (retried while 503) and B shares A's fill.
  const clean = new Rounds(p, { retryWritesForMs: 10_000 })
  for (let i = 0; i < CLEAN_ROUNDS; i++) await clean.round(product(301 + i))
  const originAfter = (await originCalls(p, p.a)) + (await originCalls(p, p.b))

  const writes: Record<string, number> = {}
  for (const w of rounds.writeAttempts) writes[w.status] = (writes[w.status] ?? 0) + 1
  const maxWrite = Math.max(0, ...rounds.writeAttempts.map((w) => w.ms))
  console.log(
    `failover ${name}: ${note}, failover ${failoverMs} ms | reads ${reads.requests} statuses {${statuses(reads)}} ` +
      `connErrors=${reads.connectionErrors} timeouts=${reads.timeouts} p50=${reads.p50.toFixed(1)}ms ` +
      `p99=${reads.p99.toFixed(1)}ms max=${reads.max.toFixed(1)}ms | origin runs ${originAfter - originBefore} | ` +
      `rounds ${rounds.rounds}, writes ${JSON.stringify(writes)} max ${maxWrite.toFixed(0)} ms, ` +
      `stale reads ${rounds.violations(false).counts.stale ?? 0} | after: ${clean.summary('clean rounds')}`,
  )
  if (reads.slow.length > 0)
    console.log(`failover ${name}: slow reads ${JSON.stringify(reads.slow)}`)
  expect({
    name,
    statuses: Object.keys(reads.byStatus),
    connErrors: reads.connectionErrors,
  }).toEqual({
    name,
    statuses: ['200'],
    connErrors: 0,
  })
  expect({ timeouts: reads.timeouts, errors: reads.errors, stoppedBy: reads.stoppedBy }).toEqual({
    timeouts: 0,
    errors: [],
    stoppedBy: 'until',
  })
  // During: no stale read, no 5xx on a read, writes 200 or an honest 503.
  expect(rounds.violations(false)).toEqual({ counts: {}, details: [] })
  expect(rounds.rounds).toBeGreaterThan(1)
  // After: clean, and shared through Redis (violations(true) counts an unshared fill).
  expect(clean.violations(true)).toEqual({ counts: {}, details: [] })
}

/** The port of the master serving `slot`, from CLUSTER NODES. */
async function masterOf(c: LocalCluster, slot: number): Promise<number> {
  const text = String(
    await redisCommand((c.nodes[0] as { port: number }).port, ['CLUSTER', 'NODES']),
  )
  for (const line of text.split('\n')) {
    const f = line.split(' ')
    if (!(f[2] ?? '').includes('master') || (f[2] ?? '').includes('fail')) continue
    for (const range of f.slice(8)) {
      const [from, to = from] = range.split('-').map(Number) as [number, number?]
      if (slot >= from && slot <= (to as number))
        return Number((f[1] ?? '').split(':')[1]?.split('@')[0])
    }
  }
  throw new Error(`no master serves slot ${slot}`)
}

test('Redis Cluster: the master of the home shard is killed (SIGKILL) and its replica takes over', async () => {
  cluster = await startLocalCluster({ replicas: 1 })
  const c = cluster
  pair = await startPair(c.seeds, 'failover-cluster', { CACHE_REDIS_WAIT: '1' })
  await underLoad('cluster', pair, async () => {
    // The home shard (`{prefix}`) holds the bus and the leases: the hardest master to lose.
    const home = await masterOf(c, slotOf((pair as Pair).prefix))
    const killed = await c.killMaster(home)
    // The promoted replica has no replica of its own: WAIT 1 fails (writes answer
    // 503) until the old master is back, as its replica.
    const restarted = await c.restartNode(killed.killed)
    return `killed master ${killed.killed} (home shard), replica ${killed.promoted} promoted after ${killed.ms} ms, old master back as replica after ${restarted.ms} ms`
  })
}, 90_000)

test('Redis Sentinel: SENTINEL FAILOVER demotes the master', async () => {
  sentinel = await startLocalSentinel()
  const s = sentinel
  pair = await startPair(s.url, 'failover-sentinel', { CACHE_REDIS_WAIT: '1' })
  await underLoad('sentinel', pair, async () => {
    const f = await s.failover()
    return `master ${f.from} demoted, ${f.to} promoted after ${f.ms} ms`
  })
}, 90_000)

const run = promisify(execFile)

/** `CLUSTER MYID` of the node on `port`. */
async function nodeId(port: number): Promise<string> {
  return String(await redisCommand(port, ['CLUSTER', 'MYID']))
}

test('Redis Cluster: resharding under load (MOVED, ASK and TRYAGAIN while slots migrate)', async () => {
  cluster = await startLocalCluster()
  const c = cluster
  pair = await startPair(c.seeds, 'failover-reshard')
  await underLoad('reshard', pair, async () => {
    const [from, to] = c.nodes as unknown as [{ port: number }, { port: number }]
    const started = Date.now()
    // 2000 slots, keys and all (MIGRATE), from the first master to the second:
    // the home shard's slot among them when it is the first master's.
    await run(
      'redis-cli',
      [
        '--cluster',
        'reshard',
        `127.0.0.1:${from.port}`,
        '--cluster-from',
        await nodeId(from.port),
        '--cluster-to',
        await nodeId(to.port),
        '--cluster-slots',
        '2000',
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    )
    return `2000 slots moved from ${from.port} to ${to.port} in ${Date.now() - started} ms`
  })
}, 120_000)

test('Redis Cluster: a master with no replica dies (CLUSTERDOWN), then comes back', async () => {
  cluster = await startLocalCluster()
  const c = cluster
  pair = await startPair(c.seeds, 'failover-down')
  await underLoad('clusterdown', pair, async (refused: () => number) => {
    const victim = c.nodes[1] as (typeof c.nodes)[number]
    const before = refused()
    await victim.kill()
    const killedAt = Date.now()
    // The other masters see it fail after the node timeout (2 s): CLUSTERDOWN for every slot.
    const downMs = await waitFor('CLUSTERDOWN', 10_000, async () => {
      const info = String(
        await redisCommand((c.nodes[0] as { port: number }).port, ['CLUSTER', 'INFO']),
      )
      return info.includes('cluster_state:fail') ? true : (info.split('\r\n')[0] ?? '')
    })
    await sleep(1000)
    await victim.restart()
    await waitFor('cluster_state:ok', 15_000, async () => {
      const info = String(
        await redisCommand((c.nodes[0] as { port: number }).port, ['CLUSTER', 'INFO']),
      )
      return info.includes('cluster_state:ok') ? true : (info.split('\r\n')[0] ?? '')
    })
    return `master ${victim.port} killed, cluster down after ${downMs} ms, back and ok ${Date.now() - killedAt} ms after the kill; writes refused (503) meanwhile: ${refused() - before}`
  })
}, 120_000)
