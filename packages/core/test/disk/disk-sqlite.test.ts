import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import KeyvSqlite from '@keyv/sqlite'
import Redis from 'ioredis'
import Keyv from 'keyv'
import { sharedRedisUrl } from '../../../../test/support/redis/shared'
import { CacheEngine } from '../../src/engine/engine'
import { redisTier } from '../../src/redis'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin, request, sleep } from '../support'

// The disk tier on a Keyv store: a real SQLite file (`@keyv/sqlite`).

const rules: CacheRule[] = [{ path: '/items/:id', ttl: '1m', tags: ['items', 'item:{params.id}'] }]
const LEASE = 300

let dir: string
let file: string
let prefix: string
const engines: CacheEngine[] = []
const stores: Keyv[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cachet-disk-sqlite-'))
  file = join(dir, 'cache.sqlite')
  prefix = `sqlite-${randomBytes(5).toString('hex')}`
})

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close()
  for (const s of stores.splice(0)) await s.disconnect()
  await rm(dir, { recursive: true, force: true })
})

/** A Keyv on the SQLite file: a new one is a restarted process's. */
function sqlite(): Keyv {
  const keyv = new Keyv({ store: new KeyvSqlite(`sqlite://${file}`) })
  stores.push(keyv)
  return keyv
}

async function engine(keyv: Keyv, redis: boolean): Promise<CacheEngine> {
  const e = new CacheEngine({
    rules,
    store: {
      l1: false,
      ...(redis
        ? { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms` }) }
        : {}),
      l3: { keyv },
    },
  })
  engines.push(e)
  await e.start()
  return e
}

async function close(e: CacheEngine): Promise<void> {
  engines.splice(engines.indexOf(e), 1)
  await e.close()
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10)
  expect(check()).toBe(true)
}

test('below Redis: a copy in the SQLite file answers a Redis miss after a restart; an invalidation refuses it', async () => {
  const origin = new FakeOrigin()
  const a = await engine(sqlite(), true)
  await sleep(LEASE) // past the new keyspace's birth wait
  await request(a, origin, '/items/1')
  await request(a, origin, '/items/2')
  await until(() => a.stats().l3?.counts?.writes === 2)
  await close(a)
  expect((await stat(file)).size).toBeGreaterThan(0)
  const redis = new Redis(sharedRedisUrl())
  await redis.del(...(await redis.keys(`{${prefix}}:e:*`)))

  const b = await engine(sqlite(), true)
  await b.invalidate({ tags: ['item:2'] })
  expect(await request(b, origin, '/items/1')).toEqual({ outcome: 'hit', body: 'v1' })
  expect(await request(b, origin, '/items/2')).toEqual({ outcome: 'miss', body: 'v3' })
  expect(origin.calls).toBe(3)
  expect(b.stats().l3).toMatchObject({ store: 'keyv', below: true })
  expect(b.stats().l3?.counts).toMatchObject({ hits: 1, refused: 1 })
  redis.disconnect()
})

test('alone: entries and invalidations persist in the SQLite file across a restart', async () => {
  const origin = new FakeOrigin()
  const a = await engine(sqlite(), false)
  await request(a, origin, '/items/1')
  await request(a, origin, '/items/2')
  await until(() => a.stats().rules[0]?.stores.shared === 2)
  await a.invalidate({ tags: ['item:2'] })
  await close(a)

  const b = await engine(sqlite(), false)
  expect(await request(b, origin, '/items/1')).toEqual({ outcome: 'hit', body: 'v1' })
  expect(await request(b, origin, '/items/2')).toEqual({ outcome: 'miss', body: 'v3' })
  expect(origin.calls).toBe(3)
  expect(b.stats().l3).toMatchObject({ store: 'keyv', below: false })
})

test('alone, a Keyv store may be shared by processes: no memory tier unless store.l1.maxTtl bounds it', () => {
  const keyv = sqlite()
  const unbounded = new CacheEngine({ rules, store: { l3: { keyv } } })
  const bounded = new CacheEngine({ rules, store: { l1: { maxTtl: '5s' }, l3: { keyv } } })
  engines.push(unbounded, bounded)
  expect(unbounded.stats().l1).toBeUndefined()
  expect(bounded.stats().l1).toBeDefined()
})
