import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheOptions, CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import Redis from 'ioredis'
import { sharedRedisUrl } from '../support/redis/shared'
import { send } from '../support/shops'
import { type Respond, type SmallApp, smallApps } from '../support/small-apps'

// The disk tier (`store.l3`) on the three adapters over real HTTP: alone,
// and below a real Redis. Each "restart" is a new app on the same
// directory; the route's runs are counted per app.

const rules: CacheRule[] = [{ path: '/item/:id', ttl: '1m', tags: ['item:{params.id}'] }]
const LEASE = 300

const labelled =
  (label: string): Respond =>
  ({ path }, count) => ({ body: `${path} ${label}v${count(path)}` })

const get = async (app: SmallApp, path: string) => {
  const r = await send(app.url, { method: 'GET', path })
  return [r.headers['x-cache'], r.body.toString('utf8')]
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + 5_000
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

let dir: string
let prefix: string
const running: SmallApp[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cachet-disk-http-'))
  prefix = `diskhttp-${randomBytes(5).toString('hex')}`
})
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()))
  await rm(dir, { recursive: true, force: true })
})

describe.each(smallApps)('%s', (_, build) => {
  const start = async (options: CacheOptions, label: string) => {
    const app = await build(options, false, labelled(label))
    running.push(app)
    await app.cache.ready
    return app
  }
  const stop = async (app: SmallApp) => {
    running.splice(running.indexOf(app), 1)
    await app.close()
  }

  test('alone: responses survive a restart; an invalidation made before it still holds', async () => {
    const options = () => ({ rules, store: { l3: { dir } } })
    const a = await start(options(), 'a')
    expect(await get(a, '/item/1')).toEqual(['MISS', '/item/1 av1'])
    expect(await get(a, '/item/2')).toEqual(['MISS', '/item/2 av1'])
    // Each fill's copy goes to the disk after the answer, then to memory.
    await until('both stored', () =>
      a.cache.stats().rules.every((r) => r.stores.shared === 2 && r.stores.memory === 2),
    )
    expect(await get(a, '/item/1')).toEqual(['HIT', '/item/1 av1'])
    await a.cache.invalidate({ tags: ['item:2'] })
    await stop(a)

    const b = await start(options(), 'b')
    expect(await get(b, '/item/1')).toEqual(['HIT', '/item/1 av1'])
    expect(await get(b, '/item/2')).toEqual(['MISS', '/item/2 bv1'])
    expect(b.calls.get('/item/1')).toBeUndefined()
    expect(b.calls.get('/item/2')).toBe(1)
  })

  test('below Redis: a copy on disk answers after Redis lost it, unless another process invalidated it', async () => {
    const options = (disk: boolean): CacheOptions => ({
      rules,
      store: {
        l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms` }),
        ...(disk ? { l3: { dir } } : {}),
      },
    })
    const a = await start(options(true), 'a')
    await sleep(LEASE) // past the new keyspace's birth wait
    expect(await get(a, '/item/1')).toEqual(['MISS', '/item/1 av1'])
    expect(await get(a, '/item/2')).toEqual(['MISS', '/item/2 av1'])
    await until('two copies on disk', () => a.cache.stats().l3?.counts?.writes === 2)
    await stop(a)
    const redis = new Redis(sharedRedisUrl())
    await redis.del(...(await redis.keys(`{${prefix}}:e:*`)))
    redis.disconnect()
    // Another process, without a disk tier, invalidates one of them.
    const other = await start(options(false), 'o')
    await other.cache.invalidate({ tags: ['item:2'] })

    const b = await start(options(true), 'b')
    expect(await get(b, '/item/1')).toEqual(['HIT', '/item/1 av1'])
    expect(await get(b, '/item/2')).toEqual(['MISS', '/item/2 bv1'])
    expect(b.calls.get('/item/1')).toBeUndefined()
    expect(b.calls.get('/item/2')).toBe(1)
    expect(b.cache.stats().l3?.counts).toMatchObject({ hits: 1, refused: 1 })
    // Promoted into Redis: the other process hits it too.
    expect(await get(other, '/item/1')).toEqual(['HIT', '/item/1 av1'])
    expect(other.calls.get('/item/1')).toBeUndefined()
  })
})
