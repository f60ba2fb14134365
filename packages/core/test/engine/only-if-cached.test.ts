import { CacheEngine } from '../../src/engine/engine'
import type { CacheOptions } from '../../src/options/cache-options'
import type { CacheRule } from '../../src/rules/types'
import { FakeTier } from '../fake-tier'
import { FakeOrigin, lookup, request } from '../support'

// RFC 9111 §5.2.1.7: `Cache-Control: only-if-cached` gets a stored response or
// a 504, and never reaches the origin.

const rules: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: 60, tags: ['item:{params.id}'] },
  { name: 'swr', path: '/swr/:id', ttl: 60, staleWhileRevalidate: 30 },
]
const ONLY = { headers: { 'cache-control': 'max-age=0, Only-If-Cached' } }

let clock: number
beforeEach(() => {
  clock = 1_000_000
  jest.spyOn(Date, 'now').mockImplementation(() => clock)
})
afterEach(() => jest.restoreAllMocks())

async function engineWith(options: Partial<Omit<CacheOptions, 'rules'>> = {}) {
  const engine = new CacheEngine({ rules, ...options })
  await engine.start()
  return { engine, origin: new FakeOrigin() }
}

describe('only-if-cached, memory tier', () => {
  test('cold: unavailable (a 504), the origin is not called, counted as a bypass', async () => {
    const { engine, origin } = await engineWith()
    expect(await request(engine, origin, '/items/1', ONLY)).toEqual({
      outcome: 'unavailable',
      body: '',
    })
    expect(origin.calls).toBe(0)
    expect(engine.metrics[0]?.bypasses.get('only-if-cached')).toBe(1)
    await engine.close()
  })

  test('stored: the hit; past the ttl: unavailable again', async () => {
    const { engine, origin } = await engineWith()
    await request(engine, origin, '/items/1')
    expect((await request(engine, origin, '/items/1', ONLY)).outcome).toBe('hit')
    clock += 61_000
    expect((await request(engine, origin, '/items/1', ONLY)).outcome).toBe('unavailable')
    expect(origin.calls).toBe(1)
    await engine.close()
  })

  test('inside stale-while-revalidate: the stale copy (RFC 5861 allows it)', async () => {
    const { engine, origin } = await engineWith()
    await request(engine, origin, '/swr/1')
    clock += 70_000
    expect((await request(engine, origin, '/swr/1', ONLY)).outcome).toBe('stale:revalidate')
    clock += 30_000
    expect((await request(engine, origin, '/swr/1', ONLY)).outcome).toBe('unavailable')
    await engine.close()
  })
})

describe('only-if-cached, shared tier (memory off)', () => {
  async function shared(tier = new FakeTier()) {
    return { ...(await engineWith({ store: { l1: false, l2: tier } })), tier }
  }

  test("another process's copy: one read, no fill lock, a hit", async () => {
    const { engine, origin, tier } = await shared()
    await request(engine, origin, '/items/2')
    const reads = tier.calls.read
    expect((await request(engine, origin, '/items/2', ONLY)).outcome).toBe('hit')
    expect(tier.calls.read - reads).toBe(1)
    expect(tier.locks.size).toBe(0)
    expect(origin.calls).toBe(1)
    await engine.close()
  })

  test('another process is filling the key: unavailable at once, without waiting for its fill', async () => {
    const { engine, origin, tier } = await shared()
    const read = jest.spyOn(tier, 'read')
    // A plain request learns the key and leaves its fill open: the lock stays held.
    const open = await lookup(engine, '/items/3')
    expect(open.type).toBe('miss')
    const key = read.mock.calls[0]?.[0] as string
    expect(tier.locks.has(key)).toBe(true)
    expect((await request(engine, origin, '/items/3', ONLY)).outcome).toBe('unavailable')
    expect(read).toHaveBeenCalledTimes(2)
    expect(read.mock.calls[1]?.[2]).toEqual({ lock: false })
    expect(origin.calls).toBe(0)
    await engine.close()
  })

  test('a failing tier: unavailable, never an error', async () => {
    const { engine, origin, tier } = await shared()
    tier.behaviour.read = 'fail'
    expect((await request(engine, origin, '/items/4', ONLY)).outcome).toBe('unavailable')
    expect(origin.calls).toBe(0)
    await engine.close()
  })
})
