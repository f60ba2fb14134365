import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { startRedis } from '../../../../test/support/redis/redis-server'
import { sharedRedisUrl } from '../../../../test/support/redis/shared'
import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError, CachetInvalidationError } from '../../src/errors'
import { redisTier, sentinelOptions } from '../../src/redis'
import { withScripts } from '../../src/redis/commands'
import { type Keyspace, shardIndex, shardKeyspaces } from '../../src/redis/keyspace'
import { SLOTS, shardTags, slotOf } from '../../src/redis/slot'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin, request, sleep } from '../support'

// The sharded keyspace (issue "Beyond one Redis"): shard hash tags, the
// shard count every process of a prefix must agree on, WAIT, and the
// sentinel:// form of the client option.

// ioredis's own slot function (a dependency of ioredis), as the oracle.
const clusterKeySlot = require('cluster-key-slot') as (key: string) => number

describe('slotOf (CRC16/XMODEM mod 16384, Redis Cluster spec)', () => {
  test.each([
    ['foo', 12182],
    ['somekey', 11058],
    ['123456789', 12739], // CRC16/XMODEM's check value 0x31C3
  ])('%s → %d', (key, slot) => {
    expect(slotOf(key)).toBe(slot)
  })

  test('agrees with ioredis for any text without braces', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        fc.pre(!s.includes('{'))
        expect(slotOf(s)).toBe(clusterKeySlot(s))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('shardTags', () => {
  test('one shard is the plain prefix: the layout of a single Redis', () => {
    expect(shardTags('cachet', 1)).toEqual(['cachet'])
    expect(shardKeyspaces('cachet', 1)[0]?.entry('h')).toBe('{cachet}:e:h')
  })

  test.each([2, 3, 12, 64])(
    '%d shards: the home is the prefix, one shard in each n-th of the slots',
    (n) => {
      const tags = shardTags('cachet', n)
      expect(tags[0]).toBe('cachet')
      expect(new Set(tags).size).toBe(n)
      const ranges = tags.map((tag) => Math.floor((slotOf(tag) * n) / SLOTS))
      expect(new Set(ranges).size).toBe(n)
      // The key's hash tag is exactly the shard's tag.
      for (const tag of tags) expect(clusterKeySlot(`{${tag}}:e:anything`)).toBe(slotOf(tag))
      // Masters from `redis-cli --cluster create` own equal contiguous ranges.
      for (const masters of [2, 3, 4, 6]) {
        if (n % masters !== 0) continue
        const per = new Array<number>(masters).fill(0)
        for (const tag of tags) {
          const m = Math.floor((slotOf(tag) * masters) / SLOTS)
          per[m] = (per[m] as number) + 1
        }
        expect(per).toEqual(new Array<number>(masters).fill(n / masters))
      }
    },
  )

  test('entries spread over the shards', () => {
    const n = 12
    const counts = new Array<number>(n).fill(0)
    const ks = shardKeyspaces('cachet', n)[0]
    for (let i = 0; i < 12_000; i++) {
      const s = shardIndex(ks?.hash(`GET /p/${i}`) ?? '', n)
      counts[s] = (counts[s] as number) + 1
    }
    for (const c of counts) expect(c).toBeGreaterThan(800)
    for (const c of counts) expect(c).toBeLessThan(1200)
  })
})

describe('redisTier options', () => {
  const attempt = (options: object) => {
    try {
      redisTier({ client: 'redis://127.0.0.1:1', ...options } as never)
    } catch (err) {
      return err as CachetConfigError
    }
    throw new Error('expected a CachetConfigError')
  }

  test.each([
    [{ shards: 0 }, 'option "shards": expected a whole number of 1 or more, got 0'],
    [{ shards: 1.5 }, 'option "shards": expected a whole number of 1 or more, got 1.5'],
    [{ shards: 2000 }, 'option "shards": expected at most 1024, got 2000'],
    [{ wait: 1 }, 'option "wait": expected { replicas, timeout? }, got 1'],
    [
      { wait: { replicas: 0 } },
      'option "wait.replicas": expected a whole number of 1 or more, got 0',
    ],
    [{ wait: { replicas: 1, timeout: 'soon' } }, 'option "wait.timeout"'],
    [
      { wait: { replicas: 1, n: 1 } },
      'option "n": unknown option (expected one of replicas, timeout)',
    ],
  ])('%j is refused, naming the option', (options, message) => {
    const err = attempt(options)
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    expect(err.message).toContain(message)
  })

  test('a malformed sentinel:// URL is refused like any unknown client', () => {
    for (const client of [
      'sentinel://',
      'sentinel://127.0.0.1:26379',
      'sentinel://h:x/m',
      'sentinel://h:1/m?db=x',
    ]) {
      expect(() => redisTier({ client })).toThrow(/option "client": expected a redis:\/\/ URL/)
    }
  })
})

describe('sentinelOptions', () => {
  test.each<[string, object]>([
    [
      'sentinel://127.0.0.1:26379/cache',
      { sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'cache', role: 'master' },
    ],
    [
      'sentinel://a:1,b:2,c:3/my%20master?db=2',
      {
        sentinels: [
          { host: 'a', port: 1 },
          { host: 'b', port: 2 },
          { host: 'c', port: 3 },
        ],
        name: 'my master',
        db: 2,
      },
    ],
    ['sentinel://:s3cret@h:1/m', { password: 's3cret' }],
    ['sentinel://app:s3cret@h:1/m', { username: 'app', password: 's3cret' }],
  ])('%s', (url, expected) => {
    const options = sentinelOptions(url)
    expect(options).toMatchObject(expected)
    // A demoted master answers READONLY: reconnect, asking the sentinels again.
    expect(
      options?.reconnectOnError?.(
        new Error("READONLY You can't write against a read only replica."),
      ),
    ).toBe(true)
    expect(options?.reconnectOnError?.(new Error('ERR other'))).toBe(false)
  })

  test('anything else is not a sentinel URL', () => {
    expect(sentinelOptions('redis://h:1')).toBeUndefined()
    expect(sentinelOptions('sentinel://h:1')).toBeUndefined()
    expect(sentinelOptions('sentinel://user@h:1/m')).toBeUndefined()
  })
})

describe('on a real Redis', () => {
  const LEASE = 300
  const rules: CacheRule[] = [{ path: '/p/:id', ttl: 60, tags: ['p:{params.id}'] }]
  const engines: CacheEngine[] = []
  const open = async (prefix: string, shards: number, extra: object = {}) => {
    const engine = new CacheEngine({
      rules,
      store: {
        l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms`, shards, ...extra }),
      },
    })
    engines.push(engine)
    await engine.start()
    return engine
  }
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close()
  })

  test('8 shards: an invalidation on one process reaches entries in every shard of another', async () => {
    const prefix = `shards-${randomBytes(5).toString('hex')}`
    const a = await open(prefix, 8)
    const b = await open(prefix, 8)
    const origin = new FakeOrigin()
    await sleep(LEASE) // past the new keyspace's birth wait
    const ids = Array.from({ length: 40 }, (_, i) => i)
    for (const id of ids) expect((await request(a, origin, `/p/${id}`)).outcome).toBe('miss')
    expect(origin.calls).toBe(40)
    for (const id of ids) expect((await request(b, origin, `/p/${id}`)).outcome).toBe('hit')
    expect(origin.calls).toBe(40)
    // The entries are spread: more than one shard holds some.
    const raw = new Redis(sharedRedisUrl())
    try {
      const used = new Set<number>()
      const spaces = shardKeyspaces(prefix, 8)
      for (const [i, ks] of spaces.entries()) {
        const [, found] = await raw.scan('0', 'MATCH', `${ks.entry('')}*`, 'COUNT', 1000)
        if (found.length > 0) used.add(i)
      }
      expect(used.size).toBeGreaterThan(4)
    } finally {
      raw.disconnect()
    }
    await b.invalidate({ tags: ids.map((id) => `p:${id}`) })
    for (const id of ids) expect((await request(a, origin, `/p/${id}`)).outcome).toBe('miss')
    expect(origin.calls).toBe(80)
    await a.invalidate({ pattern: '/p/*' })
    for (const id of ids) expect((await request(b, origin, `/p/${id}`)).outcome).toBe('miss')
    expect(origin.calls).toBe(120)
  })

  test('a process with another shard count is refused: CACHET_SHARDS, never a silent split', async () => {
    const prefix = `shards-${randomBytes(5).toString('hex')}`
    const a = await open(prefix, 4)
    const origin = new FakeOrigin()
    await sleep(LEASE)
    expect((await request(a, origin, '/p/1')).outcome).toBe('miss')
    const errors: Error[] = []
    const b = new CacheEngine({
      rules,
      store: {
        l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms`, shards: 2 }),
      },
    })
    engines.push(b)
    b.on('tier:error', ({ error }: { error: Error }) => errors.push(error))
    await b.start()
    // Its reads fail (a miss, the origin answers) and say why; its invalidations are refused.
    expect((await request(b, origin, '/p/1')).outcome).toBe('miss')
    expect(origin.calls).toBe(2)
    expect(errors.map((e) => e.message).join('\n')).toMatch(
      /CACHET_SHARDS this prefix is in use with 4 shards, this process has 2/,
    )
    const refused = await b.invalidate({ tags: ['p:1'] }).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(refused).toBeInstanceOf(CachetInvalidationError)
    expect((refused as Error).message).toMatch(/CACHET_SHARDS/)
    // A still serves from Redis as before.
    expect((await request(a, origin, '/p/1')).outcome).toBe('hit')
    expect(origin.calls).toBe(2)
  })

  test('wait: an invalidation no replica acknowledged is reported failed (the shared server has none)', async () => {
    const prefix = `shards-${randomBytes(5).toString('hex')}`
    const a = await open(prefix, 1, {
      wait: { replicas: 1, timeout: '50ms' },
      timeouts: { invalidate: '400ms' },
    })
    const origin = new FakeOrigin()
    await sleep(LEASE)
    expect((await request(a, origin, '/p/1')).outcome).toBe('miss')
    const started = Date.now()
    const err = await a.invalidate({ tags: ['p:1'] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(err).toBeInstanceOf(CachetInvalidationError)
    expect(err?.message).toMatch(/WAIT: 0 of 1 replica\(s\) acknowledged within 50 ms/)
    // Retried within the invalidation deadline, then given up.
    expect(Date.now() - started).toBeLessThan(2000)
    // Recorded on the master all the same: conservative, the entry is gone.
    expect((await request(a, origin, '/p/1')).outcome).toBe('miss')
    expect(origin.calls).toBe(2)
  })
})

describe('the READ script, run again', () => {
  test('a read resent after a reconnect finds its own lock: acquired, not busy (else it waits on itself)', async () => {
    const raw = withScripts(new Redis(sharedRedisUrl()))
    try {
      const [k] = shardKeyspaces(`resend-${randomBytes(5).toString('hex')}`, 1) as [Keyspace]
      const h = k.hash('GET /p/1')
      const read = (token: string) =>
        raw.cachetReadBuffer(
          5,
          k.entry(h),
          k.lock(h),
          k.marker(h),
          k.state,
          k.patternLog,
          '0',
          token,
          5000,
          60_000,
          'e1',
          1,
        )
      expect(String((await read('me:1'))[1])).toBe('acquired')
      expect(String((await read('me:1'))[1])).toBe('acquired')
      expect(String((await read('other:1'))[1])).toBe('busy')
    } finally {
      raw.disconnect()
    }
  })
})

describe('a release lost in a failover', () => {
  test('locks taken within lockTtl are released again once the connection is back', async () => {
    // Its own server: the test kills every normal client connection on it.
    const server = await startRedis()
    const raw = new Redis(server.url)
    const prefix = `lost-${randomBytes(5).toString('hex')}`
    const tier = redisTier({ client: server.url, prefix, lockTtl: '5s' })
    try {
      const [k] = shardKeyspaces(prefix, 1) as [Keyspace]
      const key = 'GET /p/1'
      const lockKey = k.lock(k.hash(key))
      await tier.start({ onInvalidate: () => {}, onResync: () => {} })
      const miss = await tier.read(key, ['p:1'], { lock: true })
      if (miss.kind !== 'miss') throw new Error('expected a miss')
      expect(miss.lock).toBe('acquired')
      const now = Date.now()
      const response = {
        status: 200,
        headers: ['content-type', 'text/plain'],
        body: Buffer.from('v1'),
        etag: '"1"',
        cachedAt: now,
        staleAt: now + 60_000,
        deleteAt: now + 120_000,
        tags: ['p:1'],
        path: '/p/1',
      }
      expect(await tier.write(key, response, miss.fence)).toBe(true)
      expect(await raw.exists(lockKey)).toBe(0)
      // The promoted replica still has the lock: the write that released it went
      // to the old master. Somebody else's lock elsewhere must survive.
      const token = (miss.fence as unknown as { token: string }).token
      // A fill still running keeps its lock through the reconnect (single flight).
      const running = await tier.read('GET /p/3', ['p:3'], { lock: true })
      expect(running.kind === 'miss' && running.lock).toBe('acquired')
      const runningKey = k.lock(k.hash('GET /p/3'))
      const otherKey = k.lock(k.hash('GET /p/2'))
      await raw.set(lockKey, token, 'PX', 5000)
      await raw.set(otherKey, 'another-process:1', 'PX', 5000)
      await raw.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
      const started = Date.now()
      while ((await raw.exists(lockKey)) === 1 && Date.now() - started < 3000) await sleep(20)
      expect(await raw.exists(lockKey)).toBe(0)
      expect(Date.now() - started).toBeLessThan(3000)
      expect(await raw.get(otherKey)).toBe('another-process:1')
      expect(await raw.exists(runningKey)).toBe(1)
    } finally {
      await tier.close()
      raw.disconnect()
      await server.stop()
    }
  })
})

describe('shard records', () => {
  test('a keyspace from before shards were recorded, with live processes, counts as one shard', async () => {
    const prefix = `legacy-${randomBytes(5).toString('hex')}`
    const raw = new Redis(sharedRedisUrl())
    const [home] = shardKeyspaces(prefix, 1) as [Keyspace]
    await raw.hset(home.state, 'epoch', 'old', 'born', 0, 'vseq', 0, 'pseq', 0, 'bseq', 0)
    await raw.hset(home.state, 'l:old-process', Date.now() + 60_000)
    const tier = redisTier({
      client: sharedRedisUrl(),
      prefix,
      shards: 4,
      timeouts: { read: '1s' },
    })
    const same = redisTier({ client: sharedRedisUrl(), prefix, timeouts: { read: '1s' } })
    try {
      await sleep(100) // connected
      const refused = await tier.read('GET /p/1', ['p:1'], { lock: false }).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      expect(refused?.message).toMatch(
        /CACHET_SHARDS this prefix is in use with 1 shards, this process has 4/,
      )
      expect((await same.read('GET /p/1', ['p:1'], { lock: false })).kind).toBe('miss')
      // Not recorded while the old processes live.
      expect(await raw.hget(home.state, 'shards')).toBeNull()
    } finally {
      await tier.close()
      await same.close()
      raw.disconnect()
    }
  })

  test('an invalidation creates no tag record: only existing ones move (a missing one is already invalid)', async () => {
    const prefix = `records-${randomBytes(5).toString('hex')}`
    const raw = new Redis(sharedRedisUrl())
    const tier = redisTier({ client: sharedRedisUrl(), prefix, shards: 4, lease: '200ms' })
    try {
      await sleep(100)
      const spaces = shardKeyspaces(prefix, 4)
      await tier.invalidateWithReport({ tags: ['user:u1'], patterns: [] })
      for (const ks of spaces) expect(await raw.exists(ks.tag('user:u1'))).toBe(0)
      // A fill creates the record in its own shard only; the next invalidation moves it.
      const miss = await tier.read('GET /me', ['user:u1'], { lock: false })
      if (miss.kind !== 'miss') throw new Error('expected a miss')
      const owners = []
      for (const ks of spaces) if ((await raw.exists(ks.tag('user:u1'))) === 1) owners.push(ks)
      expect(owners.length).toBe(1)
      const before = await raw.get((owners[0] as Keyspace).tag('user:u1'))
      await tier.invalidateWithReport({ tags: ['user:u1'], patterns: [] })
      expect(await raw.get((owners[0] as Keyspace).tag('user:u1'))).not.toBe(before)
    } finally {
      await tier.close()
      raw.disconnect()
    }
  })
})
