import { randomBytes } from 'node:crypto'
import { type ShopKind, shopEntry } from '../support/processes'
import { type RedisProcess, startRedis } from '../support/redis/redis-server'
import { redisCommand } from '../support/redis/resp'
import { cart, type Pair, product, type Resource, Rounds, startPair } from './cluster'
import { json, ms, quantile, send, sleep, Tally, xCache } from './http'

// Faults under a two-process cluster (A = Express writes, B = Koa reads; A =
// Fastify in one case of "Redis stopped"), each test on its own redis-server:
// Redis restarted (all data lost), flushed, its pub/sub connections killed,
// stopped, hung; B crashed or stalled (SIGSTOP), alone or while Redis is
// restarted or flushed. The promise under test (DESIGN.md, "Invalidation that is
// correct" and "Failing well"): a write that answers 2xx is never followed by a
// stale read on another process; a Redis fault turns a write into a 503 within a
// few seconds, never a hang or a false 200; reads never fail because of Redis.

// How long a write may keep answering 503 while Redis comes back. A reborn
// keyspace makes the first invalidation wait out one lease (3 s).
const RETRY_MS = 15_000

let redis: RedisProcess | undefined
let pair: Pair | undefined

beforeAll(() => {
  shopEntry('express')
  shopEntry('koa')
  shopEntry('fastify')
})

afterEach(async () => {
  try {
    redis?.resume()
  } catch {}
  await pair?.stop()
  await redis?.stop()
  pair = undefined
  redis = undefined
})

async function setUp(
  label: string,
  kinds: [ShopKind, ShopKind] = ['express', 'koa'],
): Promise<{ redis: RedisProcess; pair: Pair }> {
  redis = await startRedis()
  pair = await startPair(redis.url, label, {}, kinds)
  return { redis, pair }
}

/**
 * What B is made to hold before a fault: product 1, and the carts of three
 * users. Only one product: every product write also bumps the shared tag
 * `products`, so writing product 2 would end B's copy of product 1 by itself.
 * Carts have a tag of their own each (`user:<id>`).
 */
function heldResources(): Resource[] {
  const tag = randomBytes(3).toString('hex')
  return [product(1), cart(`held-${tag}-1`), cart(`held-${tag}-2`), cart(`held-${tag}-3`)]
}

type Held = Array<[Resource, string]>

/**
 * Steps 1-3 of a round on each resource, then a read of each on B that must be
 * a HIT of the same copy: right before the fault, B holds all of them.
 */
async function share(p: Pair, rounds: Rounds, resources = heldResources()): Promise<Held> {
  const held: Held = []
  for (const r of resources) {
    const x = await rounds.share(r)
    if (x !== undefined) held.push([r, x])
  }
  expect(rounds.violations(true)).toEqual({ counts: {}, details: [] })
  for (const [r, x] of held) {
    const reply = await send(p.agent, p.b.url, r.path, { headers: { ...r.headers } })
    expect([r.label, reply.status, xCache(reply), r.identity(json(reply))]).toEqual([
      r.label,
      200,
      'HIT',
      x,
    ])
  }
  return held
}

/** Steps 4-5 (write on A, then read on B) for each held resource. */
async function checkAll(rounds: Rounds, held: Held): Promise<void> {
  for (const [r, x] of held) await rounds.check(r, x)
}

/**
 * Subscribers of the cluster's bus channel, as Redis counts them. The channel's
 * exact name is the tier's business (`<prefix>:bus`, `{<prefix>}:bus`, ...): any
 * channel named after the prefix and ending in `:bus`.
 */
async function busSubscribers(url: string, prefix: string): Promise<number> {
  const channels = (await redisCommand(url, ['PUBSUB', 'CHANNELS', `*${prefix}*`])) as string[]
  const bus = channels.filter((c) => c.endsWith(':bus'))
  if (bus.length === 0) return 0
  const reply = (await redisCommand(url, ['PUBSUB', 'NUMSUB', ...bus])) as Array<string | number>
  let total = 0
  for (let i = 1; i < reply.length; i += 2) total += Number(reply[i])
  return total
}

async function waitForBus(url: string, prefix: string, subscribers: number): Promise<number> {
  const started = Date.now()
  while ((await busSubscribers(url, prefix)) < subscribers) {
    if (Date.now() - started > 10_000) throw new Error(`the bus did not come back within 10 s`)
    await sleep(20)
  }
  return Date.now() - started
}

/** Waits until the keyspace's epoch exists (a field of the tier's state hash). */
async function waitForEpoch(url: string, prefix: string): Promise<number> {
  const started = Date.now()
  for (;;) {
    let cursor = '0'
    do {
      const [next, keys] = (await redisCommand(url, [
        'SCAN',
        cursor,
        'MATCH',
        `*${prefix}*:state`,
        'COUNT',
        1000,
      ])) as [string, string[]]
      for (const key of keys) {
        if ((await redisCommand(url, ['HGET', key, 'epoch'])) !== null) return Date.now() - started
      }
      cursor = next
    } while (cursor !== '0')
    if (Date.now() - started > 10_000) throw new Error('no epoch record within 10 s')
    await sleep(10)
  }
}

/** Clean rounds once the fault is over: coherence and sharing are back. */
async function recovered(p: Pair, label: string): Promise<void> {
  const rounds = new Rounds(p, { retryWritesForMs: RETRY_MS })
  for (let i = 0; i < 20; i++) await rounds.round(product(11 + (i % 10)))
  console.log(rounds.summary(`${label}, after recovery`))
  expect(rounds.violations(true)).toEqual({ counts: {}, details: [] })
}

async function expectCleanExit(p: Pair): Promise<void> {
  expect(await p.stop()).toEqual([
    { code: 0, signal: null },
    { code: 0, signal: null },
  ])
}

test('Redis restarted (data lost) after B cached A’s fill: the next write on A is honoured by B', async () => {
  const { redis, pair } = await setUp('restart')
  const held = await share(pair, new Rounds(pair))

  await redis.restart()
  const restarted = Date.now()
  const rounds = new Rounds(pair, { retryWritesForMs: RETRY_MS })
  await checkAll(rounds, held)
  console.log(
    `${rounds.summary('restart: write on A (retried on 503) then read on B')} | first 200 after ${Date.now() - restarted}ms in total for ${held.length} writes`,
  )
  expect(rounds.violations(false)).toEqual({ counts: {}, details: [] })

  await recovered(pair, 'restart')
  await expectCleanExit(pair)
}, 30_000)

test('FLUSHALL after B cached A’s fill: the next write on A is honoured by B', async () => {
  const { redis, pair } = await setUp('flush')
  const held = await share(pair, new Rounds(pair))

  expect(await redisCommand(redis.url, ['FLUSHALL'])).toBe('OK')
  const rounds = new Rounds(pair, { retryWritesForMs: RETRY_MS })
  await checkAll(rounds, held)
  console.log(rounds.summary('flushall after the shared read: write on A then read on B'))
  expect(rounds.violations(false)).toEqual({ counts: {}, details: [] })

  await recovered(pair, 'flushall')
  await expectCleanExit(pair)
}, 30_000)

test('FLUSHALL between A’s fill and B’s read: B fills from its own origin, and A’s next write still reaches it', async () => {
  const { redis, pair } = await setUp('flush-between')
  const { a, b, agent } = pair
  const tally = new Tally()
  const afterWrite = new Tally()
  let write503 = 0
  for (const id of [1, 2, 3, 4, 5]) {
    const path = `/products/${id}`
    const put = await send(agent, a.url, path, { method: 'PUT', body: { price: id } })
    expect(put.status).toBe(200)
    const fill = await send(agent, a.url, path)
    expect([fill.status, xCache(fill), json<{ version: number }>(fill).version]).toEqual([
      200,
      'MISS',
      json<{ version: number }>(put).version,
    ])
    expect(await redisCommand(redis.url, ['FLUSHALL'])).toBe('OK')
    // The flushed entry is gone: B's first read is its own origin's, and B (and
    // Redis) now hold B's rendering, stored before the write below.
    const read = await send(agent, b.url, path)
    tally.add(`${xCache(read)} v${json<{ version: number }>(read).version}`)
    expect([read.status, json<{ version: number }>(read).version]).toEqual([200, 1])

    const deadline = Date.now() + RETRY_MS
    let written = await send(agent, a.url, path, { method: 'PUT', body: { price: id + 1 } })
    while (written.status === 503 && Date.now() < deadline) {
      write503++
      await sleep(50)
      written = await send(agent, a.url, path, { method: 'PUT', body: { price: id + 1 } })
    }
    expect(written.status).toBe(200)
    // B's origin answers v1 again, so only X-Cache tells a fresh answer from the
    // entry stored before the write: it must not be a HIT.
    const after = await send(agent, b.url, path)
    afterWrite.add(`${xCache(after)} v${json<{ version: number }>(after).version}`)
    expect([after.status, xCache(after)]).toEqual([200, 'MISS'])
  }
  console.log(
    `flushall between fill and read: B's first read {${tally}} B after A's write {${afterWrite}} write503=${write503}`,
  )
  await recovered(pair, 'flushall between')
  await expectCleanExit(pair)
}, 30_000)

test('pub/sub connections killed while invalidations are published: no stale read on B, and the bus comes back', async () => {
  const { redis, pair } = await setUp('pubsub')
  const rounds = new Rounds(pair, { retryWritesForMs: RETRY_MS })
  let kills = 0
  let killed = 0
  const kill = async () => {
    kills++
    killed += Number(await redisCommand(redis.url, ['CLIENT', 'KILL', 'TYPE', 'pubsub']))
  }
  for (let i = 0; i < 60; i++) {
    const r = product(1 + (i % 10))
    const x = await rounds.share(r)
    if (x === undefined) continue
    switch (i % 6) {
      case 1: // killed after B cached X, before the write
        await kill()
        await rounds.check(r, x)
        break
      case 3: // killed while the write's invalidation is being published
        await rounds.check(r, x, kill)
        break
      case 5: // killed twice in a row, the second time during the write
        await kill()
        await sleep(5)
        await rounds.check(r, x, kill)
        break
      default:
        await rounds.check(r, x)
    }
  }
  const waited = await waitForBus(redis.url, pair.prefix, 2)
  console.log(
    `${rounds.summary('pubsub killed during rounds')} | kills=${kills} connections killed=${killed} bus back after ${waited}ms`,
  )
  // Every write that answered 200 was honoured, kills or not.
  expect(rounds.violations(false)).toEqual({ counts: {}, details: [] })

  const after = new Rounds(pair)
  for (let id = 1; id <= 10; id++) await after.round(product(id))
  console.log(after.summary('pubsub, once the bus is back'))
  expect(after.violations(true)).toEqual({ counts: {}, details: [] })
  await expectCleanExit(pair)
}, 30_000)

/**
 * Reads on both processes, alternately, until `until` resolves: every one must
 * answer 200 (from a memory tier or the origin), whatever state Redis is in.
 */
async function readLoop(p: Pair, paths: readonly string[], until: Promise<unknown>) {
  const statuses = new Tally()
  const cache = new Tally()
  const durations: number[] = []
  let done = false
  void until.finally(() => {
    done = true
  })
  for (let i = 0; !done; i++) {
    const proc = i % 2 === 0 ? p.a : p.b
    const reply = await send(p.agent, proc.url, paths[i % paths.length] as string)
    statuses.add(String(reply.status))
    cache.add(`${proc === p.a ? 'A' : 'B'}:${xCache(reply)}`)
    durations.push(reply.ms)
    await sleep(10)
  }
  return { statuses, cache, durations }
}

const FAULT_PATHS = [
  '/products/1',
  '/products/2',
  '/products/3',
  '/products/77',
  '/products?page=4',
]

/** How many times `route` (`METHOD /pattern`) of `proc`'s origin ran. */
async function routeCalls(p: Pair, proc: Pair['a'], route: string): Promise<number> {
  const reply = await send(p.agent, proc.url, '/__origin/calls')
  if (reply.status !== 200) throw new Error(`GET /__origin/calls answered ${reply.status}`)
  return json<{ byRoute: Record<string, number> }>(reply).byRoute[route] ?? 0
}

test.each<[ShopKind, ShopKind]>([
  ['express', 'koa'],
  ['fastify', 'koa'],
])(
  'Redis stopped (A=%s writes, B=%s reads): a write answers 503 quickly (no false 200, no hang), its handler run once, and reads keep answering 200',
  async (kindA, kindB) => {
    const { redis, pair } = await setUp(`down-${kindA}`, [kindA, kindB])
    await share(pair, new Rounds(pair))
    const putsBefore = await routeCalls(pair, pair.a, 'PUT /products/:id')
    await redis.stop()

    const window = sleep(2500)
    const reads = readLoop(pair, FAULT_PATHS, window)
    const writes: Array<[number, number]> = []
    for (const id of [1, 2, 3]) {
      const put = await send(pair.agent, pair.a.url, `/products/${id}`, {
        method: 'PUT',
        body: { price: 1 },
        timeoutMs: 10_000,
      })
      writes.push([put.status, Math.round(put.ms)])
    }
    await window
    const { statuses, cache, durations } = await reads
    const puts = (await routeCalls(pair, pair.a, 'PUT /products/:id')) - putsBefore
    console.log(
      `redis stopped (A=${kindA}, B=${kindB}): writes [status, ms] ${JSON.stringify(writes)} (PUT handler runs on A: ${puts}) ` +
        `reads {${statuses}} X-Cache {${cache}} ` +
        `read p50=${ms(quantile(durations, 0.5))} max=${ms(quantile(durations, 1))}`,
    )
    for (const [status, took] of writes) {
      expect(status).toBe(503)
      expect(took).toBeLessThan(5000)
    }
    // Each refused write ran its handler exactly once: the 503 is not a retry.
    expect(puts).toBe(writes.length)
    expect(Object.keys(statuses.counts)).toEqual(['200'])
    await expectCleanExit(pair)
  },
  30_000,
)

test('Redis hung (SIGSTOP): a write answers 503 within a few seconds, reads keep answering 200, and all is well after SIGCONT', async () => {
  const { redis, pair } = await setUp('hung')
  const held = await share(pair, new Rounds(pair))
  redis.pause()

  // Long enough for B's lease (3 s, renewed every second) to run out.
  const window = sleep(4000)
  const reads = readLoop(pair, FAULT_PATHS, window)
  const writes: Array<[number, number]> = []
  for (const id of [1, 2]) {
    const put = await send(pair.agent, pair.a.url, `/products/${id}`, {
      method: 'PUT',
      body: { price: 1 },
      timeoutMs: 10_000,
    })
    writes.push([put.status, Math.round(put.ms)])
  }
  await window
  const { statuses, cache, durations } = await reads
  redis.resume()
  console.log(
    `redis hung: writes [status, ms] ${JSON.stringify(writes)} reads {${statuses}} X-Cache {${cache}} ` +
      `read p50=${ms(quantile(durations, 0.5))} max=${ms(quantile(durations, 1))}`,
  )
  for (const [status, took] of writes) {
    expect(status).toBe(503)
    expect(took).toBeLessThan(5000)
  }
  expect(Object.keys(statuses.counts)).toEqual(['200'])

  // Redis answers again: a write that answers 200 is honoured by B.
  const rounds = new Rounds(pair, { retryWritesForMs: RETRY_MS })
  await checkAll(rounds, held)
  console.log(rounds.summary('redis hung, after SIGCONT: write on A then read on B'))
  expect(rounds.violations(false)).toEqual({ counts: {}, details: [] })
  await recovered(pair, 'hung')
  await expectCleanExit(pair)
}, 30_000)

test('B crashes (SIGKILL, no goodbye): A’s writes answer 200 once B’s lease has run out, then at full speed', async () => {
  const { pair } = await setUp('crash')
  await share(pair, new Rounds(pair), [product(1)])
  await pair.b.kill()
  const first = await send(pair.agent, pair.a.url, '/products/1', {
    method: 'PUT',
    body: { price: 2 },
    timeoutMs: 10_000,
  })
  const next = await send(pair.agent, pair.a.url, '/products/2', {
    method: 'PUT',
    body: { price: 2 },
  })
  console.log(
    `B crashed: first write on A ${first.status} in ${ms(first.ms)} (waits out B's lease), next ${next.status} in ${ms(next.ms)}`,
  )
  // A dead process serves nothing: waiting out its lease (3 s) is enough.
  expect(first.status).toBe(200)
  expect(first.ms).toBeLessThan(5000)
  expect(next.status).toBe(200)
  expect(next.ms).toBeLessThan(500)
  expect((await pair.a.stop()).code).toBe(0)
}, 30_000)

test.each([
  ['its subscription intact', false],
  ['its subscription killed meanwhile (the write’s message never reaches it)', true],
])(
  'B stalls (SIGSTOP) longer than its lease while A writes, %s: the write answers 200 and B, resumed, serves no stale copy',
  async (_label, killSubscription) => {
    const { redis, pair } = await setUp('stall')
    const rounds = new Rounds(pair)
    const held = await share(pair, rounds)
    pair.b.pause()
    let resumed = false
    try {
      if (killSubscription) {
        // A's subscription goes too; A reconnects at once, B only once resumed.
        await redisCommand(redis.url, ['CLIENT', 'KILL', 'TYPE', 'pubsub'])
        await waitForBus(redis.url, pair.prefix, 1)
      }
      const put = await send(pair.agent, pair.a.url, '/products/1', {
        method: 'PUT',
        body: { price: 3 },
        timeoutMs: 10_000,
      })
      // Sent while B is stopped: B finds it in its socket when it resumes, after
      // the bus message (or the end of its killed subscription) that came before.
      const queued = send(pair.agent, pair.b.url, '/products/1')
      await sleep(200)
      pair.b.resume()
      resumed = true
      const read = await queued
      const v = json<{ version: number }>(read).version
      console.log(
        `B stalled (subscription ${killSubscription ? 'killed' : 'intact'}): write on A ${put.status} in ${ms(put.ms)}; B's queued read after SIGCONT ${read.status} ${xCache(read)} v${v} (the copy B held: ${held[0]?.[1]})`,
      )
      expect(put.status).toBe(200)
      expect(put.ms).toBeLessThan(5000)
      expect(read.status).toBe(200)
      expect(`v${v}`).not.toBe(held[0]?.[1])
      expect(xCache(read)).toBe('MISS')
    } finally {
      if (!resumed) pair.b.resume()
    }
    // The carts B held were not written: the rounds' check covers them.
    const after = new Rounds(pair, { retryWritesForMs: RETRY_MS })
    await checkAll(after, held.slice(1))
    expect(after.violations(false)).toEqual({ counts: {}, details: [] })
    await recovered(pair, 'stall')
    await expectCleanExit(pair)
  },
  30_000,
)

// The keyspace reborn (restart without persistence, FLUSHALL) while B is
// stalled for less than a lease (a GC pause, a busy event loop), and something
// recreates the keyspace's epoch before A's write: after a restart, A's own
// resync once its subscription reconnects; after FLUSHALL, a miss on A (the
// read script creates the epoch). The leases recorded before the rebirth are
// gone, so A's write cannot know that B exists; B's own clock still trusts its
// memory tier when it resumes. For the write's 200 to be true, A has to wait
// until no lease from before the rebirth can still be trusted (one lease from
// the rebirth), as it does when its own invalidation is what creates the epoch.
test.each([
  ['restarted (its subscription dies with the old server)', 'restart'],
  ['flushed (its subscription lives on)', 'flushall'],
])(
  'Redis %s while B is stalled: after A’s write answers 200, B, resumed, serves no copy from before the write',
  async (_label, fault) => {
    const { redis, pair } = await setUp(`${fault}-stall`)
    const held = await share(pair, new Rounds(pair))
    pair.b.pause()
    let resumed = false
    try {
      // Shorter than a lease: B's own clock still trusts its memory tier when it
      // resumes; only the bus can tell it that it may have missed something.
      if (fault === 'restart') {
        await redis.restart()
        // Let A's subscription reconnect and resync, which recreates the epoch:
        // the order in which the next invalidation does not see a "fresh"
        // keyspace (when it creates the epoch itself, it waits out a lease, and
        // B's own lease runs out first).
        await waitForEpoch(redis.url, pair.prefix)
      } else {
        expect(await redisCommand(redis.url, ['FLUSHALL'])).toBe('OK')
        expect((await send(pair.agent, pair.a.url, '/products/999')).status).toBe(200)
      }
      const started = Date.now()
      let write503 = 0
      let put = await send(pair.agent, pair.a.url, '/products/1', {
        method: 'PUT',
        body: { price: 4 },
      })
      while (put.status === 503 && Date.now() - started < RETRY_MS) {
        write503++
        await sleep(20)
        put = await send(pair.agent, pair.a.url, '/products/1', {
          method: 'PUT',
          body: { price: 4 },
        })
      }
      const queued = send(pair.agent, pair.b.url, '/products/1')
      await sleep(100)
      pair.b.resume()
      resumed = true
      const read = await queued
      const again = await send(pair.agent, pair.b.url, '/products/1')
      const v = (r: typeof read) => `v${json<{ version: number }>(r).version}`
      console.log(
        `${fault} while B stalled: write on A ${put.status} after ${write503}×503, ${Date.now() - started}ms after the ${fault} (last try ${ms(put.ms)}); ` +
          `B's queued read after SIGCONT ${read.status} ${xCache(read)} ${v(read)}, next read ${xCache(again)} ${v(again)} (the copy B held: ${held[0]?.[1]})`,
      )
      expect(put.status).toBe(200)
      expect([read.status, v(read), xCache(read)]).toEqual([200, 'v1', 'MISS'])
      expect([again.status, v(again)]).toEqual([200, 'v1'])
    } finally {
      if (!resumed) pair.b.resume()
    }
    const after = new Rounds(pair, { retryWritesForMs: RETRY_MS })
    await checkAll(after, held.slice(1))
    expect(after.violations(false)).toEqual({ counts: {}, details: [] })
    await expectCleanExit(pair)
  },
  30_000,
)
