import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { sharedRedisUrl } from '../../../test/support/redis/shared'
import { CacheEngine } from '../src/engine/engine'
import { redisTier } from '../src/redis'
import { Keyspace } from '../src/redis/keyspace'
import type { CacheRule } from '../src/rules/types'
import { FakeOrigin, request, sleep } from './support'

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
