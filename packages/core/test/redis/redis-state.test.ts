import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { sharedRedisUrl } from '../../../../test/support/redis/shared'
import { CacheEngine } from '../../src/engine/engine'
import { redisTier } from '../../src/redis'
import { Keyspace } from '../../src/redis/keyspace'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin, lookup, request, sleep } from '../support'

// Two engines on one Redis, as two processes. The coordination state (epoch,
// counters, leases, acknowledgements) is one hash: losing it — eviction under
// an allkeys-* policy, a failover that lost writes — must start a new epoch,
// never let a counter go back and an invalidation be taken for one already
// applied. (Found in review: with separate counter keys, evicting the bus
// sequence made the next invalidation look like an old duplicate.)

const LEASE = 300
const rules: CacheRule[] = [{ path: '/p/:id', ttl: 60, tags: ['p:{params.id}'] }]

async function pair() {
  const prefix = `state-${randomBytes(5).toString('hex')}`
  const make = () =>
    new CacheEngine({
      rules,
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms` }) },
    })
  const a = make()
  const b = make()
  await Promise.all([a.start(), b.start()])
  return { a, b, state: new Keyspace(prefix).state }
}

type Loss = (raw: Redis, state: string, snapshot: Buffer) => Promise<unknown>

test.each<[string, Loss]>([
  ['evicted (the whole state hash gone)', (raw, state) => raw.del(state)],
  // A failover to a replica that had not seen the last writes: the counters
  // and acknowledgements go back within the same epoch.
  [
    'rolled back to an older snapshot',
    (raw, state, snapshot) => raw.restore(state, 0, snapshot, 'REPLACE'),
  ],
])(
  'the coordination state %s never lets an invalidated entry be served',
  async (_what, lose) => {
    const { a, b, state } = await pair()
    const raw = new Redis(sharedRedisUrl())
    const origin = new FakeOrigin()
    try {
      await sleep(LEASE) // past the keyspace's birth wait
      const snapshot = (await raw.dumpBuffer(state)) as Buffer
      expect((await request(a, origin, '/p/1')).outcome).toBe('miss')
      // Two invalidations so that B's acknowledged sequence is ahead of a reset counter.
      await a.invalidate({ tags: ['p:2'] })
      await a.invalidate({ tags: ['p:3'] })
      expect(await request(b, origin, '/p/1')).toEqual({ outcome: 'hit', body: 'v1' })
      expect(await request(b, origin, '/p/1')).toEqual({ outcome: 'hit', body: 'v1' })
      await lose(raw, state, snapshot)
      await a.invalidate({ tags: ['p:1'] })
      const after = await request(b, origin, '/p/1')
      expect(after.body).not.toBe('v1')
      expect(origin.calls).toBe(2)
    } finally {
      raw.disconnect()
      await a.close()
      await b.close()
    }
  },
  15_000,
)

/** A TCP proxy to Redis whose connections can be frozen: open, but forwarding nothing. */
async function freezableProxy(target: URL) {
  const { createServer, connect } = await import('node:net')
  const links: Array<{ frozen: boolean }> = []
  const server = createServer((client) => {
    const link = { frozen: false }
    links.push(link)
    const upstream = connect(Number(target.port), target.hostname)
    client.on('data', (d) => {
      if (!link.frozen) upstream.write(d)
    })
    upstream.on('data', (d) => {
      if (!link.frozen) client.write(d)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `redis://127.0.0.1:${port}`,
    links,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

test('a silent (half-open) subscription is detected: no stale hit, and invalidations go on', async () => {
  const prefix = `halfopen-${randomBytes(5).toString('hex')}`
  const proxy = await freezableProxy(new URL(sharedRedisUrl()))
  const a = new CacheEngine({
    rules,
    store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms` }) },
  })
  // B's command connection is the proxy's first link, its subscriber the second.
  const b = new CacheEngine({
    rules,
    store: { l2: redisTier({ client: proxy.url, prefix, lease: `${LEASE}ms` }) },
  })
  const origin = new FakeOrigin()
  try {
    await Promise.all([a.start(), b.start()])
    await sleep(LEASE)
    expect((await request(a, origin, '/p/1')).outcome).toBe('miss')
    expect(await request(b, origin, '/p/1')).toEqual({ outcome: 'hit', body: 'v1' })
    expect(await request(b, origin, '/p/1')).toEqual({ outcome: 'hit', body: 'v1' })
    const subscriber = proxy.links[1]
    if (subscriber === undefined) throw new Error('B has no subscriber link')
    subscriber.frozen = true
    // Resolves (B acknowledges after reconnecting, or its lease runs out); never stale after.
    await a.invalidate({ tags: ['p:1'] })
    expect((await request(b, origin, '/p/1')).body).not.toBe('v1')
    // And the cluster is not stuck: a later invalidation resolves too.
    await a.invalidate({ tags: ['p:9'] })
  } finally {
    await a.close()
    await b.close()
    await proxy.close()
  }
}, 15_000)

test('a fill lock whose holder died expires, and one waiting process proceeds', async () => {
  const prefix = `lock-${randomBytes(5).toString('hex')}`
  const make = () =>
    new CacheEngine({
      rules,
      coalesce: { maxWait: '5s' },
      store: {
        l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms`, lockTtl: '300ms' }),
      },
    })
  const holder = make()
  const waiter = make()
  const origin = new FakeOrigin()
  try {
    await Promise.all([holder.start(), waiter.start()])
    // The holder takes the lock and never finishes its fill (it "died").
    const held = await lookup(holder, '/p/5')
    expect(held.type).toBe('miss')
    const started = Date.now()
    const waited = await lookup(waiter, '/p/5')
    const elapsed = Date.now() - started
    // The waiter polled while the lock was held, then got the lock itself.
    expect(waited.type).toBe('miss')
    expect(elapsed).toBeGreaterThanOrEqual(250)
    expect(elapsed).toBeLessThan(4000)
    if (waited.type !== 'miss') throw new Error('expected a miss')
    origin.serve(waited.fill)
    await sleep(50)
    // A third process finds the waiter's fill in Redis.
    const reader = make()
    await reader.start()
    expect(await request(reader, origin, '/p/5')).toEqual({ outcome: 'hit', body: 'v1' })
    expect(origin.calls).toBe(1)
    await reader.close()
  } finally {
    await holder.close()
    await waiter.close()
  }
}, 15_000)
