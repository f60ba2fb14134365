import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import Keyv from 'keyv'
import { parseExposition } from '../../../../test/support/prometheus-text'
import { sharedRedisUrl } from '../../../../test/support/redis/shared'
import { CacheEngine } from '../../src/engine/engine'
import { keyvTier } from '../../src/keyv'
import { prometheusMetrics } from '../../src/prometheus'
import { redisTier } from '../../src/redis'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin, request, sleep, thrown } from '../support'

// The disk tier (`store.l3`) on real files, below the real Redis and alone.

const rules: CacheRule[] = [
  { path: '/items/:id', ttl: '1m', tags: ['items', 'item:{params.id}'] },
  { path: '/soft/:id', ttl: '1m', staleWhileRevalidate: '1m', tags: ['soft'] },
]
const LEASE = 300

let dir: string
let prefix: string
const engines: CacheEngine[] = []
const clients: Redis[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cachet-disk-tier-'))
  prefix = `disk-${randomBytes(5).toString('hex')}`
})

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close()
  for (const c of clients.splice(0)) c.disconnect()
  await rm(dir, { recursive: true, force: true })
})

/** An engine (a process) on the shared Redis prefix; `disk`: with `store.l3` in `dir`. */
async function engine(opts: { disk?: boolean; redis?: boolean; maxBytes?: number } = {}) {
  const { disk = true, redis = true } = opts
  const e = new CacheEngine({
    rules,
    coalesce: { maxWait: '20ms' },
    store: {
      // No memory tier: each request shows which tier answered.
      l1: false,
      ...(redis
        ? { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms` }) }
        : {}),
      ...(disk ? { l3: { dir, maxBytes: opts.maxBytes ?? 1_000_000 } } : {}),
    },
  })
  engines.push(e)
  await e.start()
  return e
}

async function firstEngine(opts: { disk?: boolean; redis?: boolean } = {}) {
  const e = await engine(opts)
  if (opts.redis !== false) await sleep(LEASE) // past the new keyspace's birth wait
  return e
}

async function closeEngine(e: CacheEngine): Promise<void> {
  engines.splice(engines.indexOf(e), 1)
  await e.close()
}

/** Until the engine's disk tier has written `n` copies. */
async function written(e: CacheEngine, n: number): Promise<void> {
  for (let i = 0; i < 200 && (e.stats().l3?.counts?.writes ?? 0) < n; i++) await sleep(10)
  expect(e.stats().l3?.counts?.writes).toBe(n)
}

/** Until the engine's fills have stored `n` responses in the shared tier (the disk, alone). */
async function stored(e: CacheEngine, n: number): Promise<void> {
  const count = () => e.stats().rules.reduce((sum, r) => sum + r.stores.shared, 0)
  for (let i = 0; i < 200 && count() < n; i++) await sleep(5)
  expect(count()).toBe(n)
}

/** Redis lost its entries (eviction, a restart without persistence): tag versions stay. */
async function evictRedisEntries(): Promise<number> {
  const c = new Redis(sharedRedisUrl())
  clients.push(c)
  const keys = await c.keys(`{${prefix}}:e:*`)
  if (keys.length > 0) await c.del(...keys)
  return keys.length
}

describe('below Redis', () => {
  test('a copy on disk answers a Redis miss after a restart, and goes back into Redis', async () => {
    const origin = new FakeOrigin()
    const a = await firstEngine()
    expect((await request(a, origin, '/items/1')).outcome).toBe('miss')
    await written(a, 1)
    await closeEngine(a)
    expect(await evictRedisEntries()).toBe(1)

    const b = await engine()
    expect(await request(b, origin, '/items/1')).toEqual({ outcome: 'hit', body: 'v1' })
    expect(origin.calls).toBe(1)
    expect(b.stats().l3?.counts).toMatchObject({ hits: 1, refused: 0 })
    // Promoted: a process without a disk tier finds it in Redis.
    const c = await engine({ disk: false })
    expect(await request(c, origin, '/items/1')).toEqual({ outcome: 'hit', body: 'v1' })
    expect(origin.calls).toBe(1)

    // The same figures in Prometheus.
    const x = parseExposition(await prometheusMetrics(b).metrics())
    expect(x.value('cachet_l3_hits_total')).toBe(1)
    expect(x.value('cachet_l3_refused_total')).toBe(0)
    expect(x.value('cachet_l3_errors_total')).toBe(0)
    expect(x.value('cachet_l3_writes_total')).toBe(0) // b wrote nothing: the copy was a's
    expect(x.value('cachet_l3_entries')).toBe(1)
    expect(x.value('cachet_l3_bytes')).toBe(b.stats().l3?.bytes)
    expect(x.value('cachet_l3_bytes')).toBeGreaterThan(0)
    expect(x.value('cachet_l3_max_bytes')).toBe(1_000_000)
  })

  test.each([
    ['a tag', { tags: ['item:1'] }],
    ['a pattern', { pattern: '/items/*' }],
    ['a purge of every tag it carries', { tags: ['items'] }],
  ])(
    '%s invalidated by another process while the copy sat on disk: it is refused and deleted',
    async (_name, target) => {
      const origin = new FakeOrigin()
      const a = await firstEngine()
      const other = await engine({ disk: false })
      await request(a, origin, '/items/1')
      await written(a, 1)
      await evictRedisEntries()
      await other.invalidate(target)

      expect(await request(a, origin, '/items/1')).toEqual({ outcome: 'miss', body: 'v2' })
      expect(origin.calls).toBe(2)
      expect(a.stats().l3?.counts).toMatchObject({ hits: 0, refused: 1 })
      // The new response replaced it on disk, and answers next.
      await written(a, 2)
      await evictRedisEntries()
      expect(await request(a, origin, '/items/1')).toEqual({ outcome: 'hit', body: 'v2' })
      expect(origin.calls).toBe(2)
    },
  )

  test('an unrelated invalidation leaves the copy usable', async () => {
    const origin = new FakeOrigin()
    const a = await firstEngine()
    await request(a, origin, '/items/1')
    await written(a, 1)
    await evictRedisEntries()
    await a.invalidate({ tags: ['item:2'] })
    expect(await request(a, origin, '/items/1')).toEqual({ outcome: 'hit', body: 'v1' })
    expect(origin.calls).toBe(1)
  })

  test("mode 'expire' makes the copy stale, usable inside its stale window", async () => {
    const origin = new FakeOrigin()
    const a = await firstEngine()
    await request(a, origin, '/soft/1')
    await request(a, origin, '/items/1')
    await written(a, 2)
    await evictRedisEntries()
    await a.invalidate({ tags: ['soft', 'items'], mode: 'expire' })

    expect((await request(a, origin, '/soft/1')).outcome).toMatch(/^stale:/)
    // No stale window: an expired copy is a miss.
    expect(await request(a, origin, '/items/1')).toEqual({ outcome: 'miss', body: 'v3' })
    // The stale answer's refresh, and the miss.
    for (let i = 0; i < 100 && origin.calls < 3; i++) await sleep(10)
    expect(origin.calls).toBe(3)
  })

  test('a keyspace Redis lost entirely (a new epoch) refuses every copy', async () => {
    const origin = new FakeOrigin()
    const a = await firstEngine()
    await request(a, origin, '/items/1')
    await written(a, 1)
    await closeEngine(a)
    const c = new Redis(sharedRedisUrl())
    clients.push(c)
    const keys = await c.keys(`{${prefix}}:*`)
    await c.del(...keys)

    const b = await firstEngine()
    expect(await request(b, origin, '/items/1')).toEqual({ outcome: 'miss', body: 'v2' })
    expect(origin.calls).toBe(2)
    expect(b.stats().l3?.counts?.refused).toBe(1)
  })

  test('the directory stays within maxBytes, least recently used evicted first', async () => {
    const origin = new FakeOrigin()
    const a = await engine({ maxBytes: 4096 })
    await sleep(LEASE)
    for (let i = 0; i < 20; i++)
      await request(a, origin, `/items/${i}`, { respond: { body: 'x'.repeat(500) } })
    await written(a, 20)
    const l3 = a.stats().l3
    expect(l3).toMatchObject({ store: 'file', below: true, maxBytes: 4096 })
    expect(l3?.bytes).toBeLessThanOrEqual(4096)
    expect(l3?.entries).toBeGreaterThan(0)
    expect(l3?.entries).toBeLessThan(20)
    expect(origin.calls).toBe(20)
    // The last written is still there; the first is gone.
    await evictRedisEntries()
    expect((await request(a, origin, '/items/19')).outcome).toBe('hit')
    expect((await request(a, origin, '/items/0')).outcome).toBe('miss')
    expect(origin.calls).toBe(21)
  })
})

describe('alone (no Redis): the disk is the shared tier', () => {
  test('entries survive a restart', async () => {
    const origin = new FakeOrigin()
    const a = await firstEngine({ redis: false })
    expect((await request(a, origin, '/items/1')).outcome).toBe('miss')
    await stored(a, 1) // the fill's write to the disk runs after the answer
    expect((await request(a, origin, '/items/1')).outcome).toBe('hit')
    await closeEngine(a)
    const b = await firstEngine({ redis: false })
    expect(await request(b, origin, '/items/1')).toEqual({ outcome: 'hit', body: 'v1' })
    expect(origin.calls).toBe(1)
    expect(b.stats().l3).toMatchObject({ store: 'file', below: false })
    expect(b.stats().l3?.entries).toBeGreaterThan(0)
    // Alone, the hits are the rules' shared hits: no l3 counters.
    const x = parseExposition(await prometheusMetrics(b).metrics())
    expect(x.value('cachet_hits_total', { rule: 'GET,HEAD /items/:id', tier: 'shared' })).toBe(1)
    expect([...x.types.keys()].filter((n) => n.startsWith('cachet_l3_'))).toEqual([
      'cachet_l3_entries',
      'cachet_l3_bytes',
      'cachet_l3_max_bytes',
    ])
  })

  test.each([
    ['a tag', { tags: ['item:1'] }],
    ['a pattern', { pattern: '/items/1' }],
  ])(
    'an invalidation by %s is persisted: the entry stays invalid after a restart',
    async (_name, target) => {
      const origin = new FakeOrigin()
      const a = await firstEngine({ redis: false })
      await request(a, origin, '/items/1')
      await request(a, origin, '/items/2')
      await stored(a, 2)
      await a.invalidate(target)
      await closeEngine(a)
      const b = await firstEngine({ redis: false })
      expect(await request(b, origin, '/items/1')).toEqual({ outcome: 'miss', body: 'v3' })
      expect((await request(b, origin, '/items/2')).outcome).toBe('hit')
      expect(origin.calls).toBe(3)
    },
  )

  test('with a memory tier above it, an invalidation reaches both', async () => {
    const origin = new FakeOrigin()
    const e = new CacheEngine({ rules, store: { l3: { dir } } })
    engines.push(e)
    await e.start()
    await request(e, origin, '/items/1')
    // The memory copy is written once the disk took the fill.
    for (let i = 0; i < 100 && e.stats().l1?.entries === 0; i++) await sleep(5)
    expect((await request(e, origin, '/items/1')).outcome).toBe('hit')
    expect(e.stats().rules[0]?.hits.memory).toBe(1)
    await e.invalidate({ tags: ['item:1'] })
    expect((await request(e, origin, '/items/1')).outcome).toBe('miss')
    expect(origin.calls).toBe(2)
  })

  test('a second process on the same directory is refused by name, and serves from the origin', async () => {
    const origin = new FakeOrigin()
    await firstEngine({ redis: false })
    const b = new CacheEngine({ rules, store: { l1: false, l3: { dir } } })
    engines.push(b)
    await expect(b.start()).rejects.toThrow(
      `the directory ${dir} is in use by process ${process.pid}`,
    )
    expect((await request(b, origin, '/items/1')).outcome).toBe('miss')
    expect((await request(b, origin, '/items/1')).outcome).toBe('miss')
    expect(origin.calls).toBe(2)
    // It never read the directory: an invalidation has nothing to record there, and succeeds.
    await expect(b.invalidate({ tags: ['item:1'] })).resolves.toBeDefined()
  })
})

describe('store.l3 options', () => {
  const bad: Array<[string, unknown, unknown, string]> = [
    ['not an object', 'cache', undefined, 'option "store.l3": expected { dir } or { keyv }, got'],
    ['no dir', {}, undefined, 'option "store.l3.dir": expected the path of a directory'],
    ['a typo', { dir: 'x', maxByte: 10 }, undefined, 'did you mean "store.l3.maxBytes"'],
    ['too small', { dir: 'x', maxBytes: '10b' }, undefined, 'expected at least 1KiB'],
    ['not a size', { dir: 'x', maxBytes: 'lots' }, undefined, 'option "store.l3.maxBytes"'],
    [
      'not a Keyv',
      { keyv: new Map() },
      undefined,
      'option "store.l3.keyv": expected a Keyv instance',
    ],
    ['dir beside keyv', { keyv: new Keyv(), dir: 'x' }, undefined, 'unknown option "store.l3.dir"'],
    [
      'below a Keyv tier',
      { dir: 'x' },
      keyvTier({ store: new Keyv() }),
      'the keyv tier in store.l2 cannot check copies on disk',
    ],
  ]
  test.each(bad)('%s is refused by name', (_name, l3, l2, message) => {
    const e = thrown(
      () => new CacheEngine({ rules, store: { l3, ...(l2 ? { l2 } : {}) } as never }),
    )
    expect(e.code).toBe('CACHET_INVALID_OPTION')
    expect(e.message).toContain(message)
  })
})
