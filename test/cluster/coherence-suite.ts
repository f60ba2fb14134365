import { type ShopKind, shopEntry } from '../support/processes'
import {
  cart,
  originCalls,
  type Pair,
  product,
  productList,
  Rounds,
  resetOrigin,
  startPair,
} from './cluster'
import { json, prng, send, xCache } from './http'

// Two real processes, A (Express by default) and B (Koa by default), on one Redis (or a Redis Cluster) under
// one key prefix: one cache cluster. CONTRACT.md: "a client that sees the PUT's 200 and
// then reads from any process gets the new version". Each process has its own
// product data and carts, so what B's origin renders never changes (B is never
// written to), and what A renders changes on every write: a read on B that
// returns a rendering of A's from before the write can only come from a cache.
// See `Rounds` for the exact steps and what counts as stale.

const ROUNDS = 200

/**
 * The coherence tests on the Redis (URL, seeds or sentinel://) that `redisUrl` names
 * once started, with A (every write) and B (the reader) of the given kinds.
 */
export function coherenceSuite(
  redisUrl: () => string,
  label = 'coherence',
  kinds: [ShopKind, ShopKind] = ['express', 'koa'],
): void {
  let pair: Pair
  const [kindA, kindB] = kinds
  const roles = `A=${kindA} writes, B=${kindB} reads`

  beforeAll(async () => {
    for (const kind of kinds) shopEntry(kind)
    pair = await startPair(redisUrl(), label, {}, kinds)
  }, 30_000)

  /**
   * Origin calls of `rounds.rounds` clean rounds (origin counters reset before them): on A,
   * its two writes and step 2's read after the first (a MISS); on B only step 5 (its own
   * rendering, a MISS), step 3 being a HIT of A's fill.
   */
  async function expectRoundOrigins(rounds: Rounds): Promise<void> {
    const calls = [await originCalls(pair, pair.a), await originCalls(pair, pair.b)]
    expect({ rounds: rounds.rounds, calls }).toEqual({
      rounds: rounds.rounds,
      calls: [3 * rounds.rounds, rounds.rounds],
    })
  }

  async function resetBoth(): Promise<void> {
    await resetOrigin(pair, pair.a)
    await resetOrigin(pair, pair.b)
  }

  afterAll(async () => {
    await pair?.stop()
  })

  test(`read-your-writes across processes (${roles}), products: ${ROUNDS} rounds, zero stale reads on B`, async () => {
    const seed = Date.now() >>> 0
    const random = prng(seed)
    await resetBoth()
    const rounds = new Rounds(pair)
    for (let i = 0; i < ROUNDS; i++) {
      // 50 products, so that rounds repeat ids: B's own rendering from the last
      // round on an id is in Redis and B's memory tier when the next one starts.
      await rounds.round(product(1 + Math.floor(random() * 50)))
    }
    console.log(rounds.summary(`products, ${roles}`, seed))
    expect(rounds.violations(true)).toEqual({ counts: {}, details: [] })
    await expectRoundOrigins(rounds)
    // Every timed write was answered well within one lease (3 s): B acknowledged
    // it, nobody waited for a lease to run out.
    expect(Math.max(...rounds.writeMs)).toBeLessThan(2000)
  }, 30_000)

  test(`read-your-writes across processes (A=${kindA} POSTs, B=${kindB} reads), carts: ${ROUNDS} rounds, zero stale reads on B`, async () => {
    const seed = (Date.now() ^ 0x5bd1e995) >>> 0
    const random = prng(seed)
    const users = Array.from({ length: 10 }, (_, i) => `u${seed.toString(36)}-${i}`)
    await resetBoth()
    const rounds = new Rounds(pair)
    for (let i = 0; i < ROUNDS; i++) {
      await rounds.round(cart(users[Math.floor(random() * users.length)] as string))
    }
    console.log(rounds.summary(`carts, A=${kindA} POSTs, B=${kindB} reads`, seed))
    expect(rounds.violations(true)).toEqual({ counts: {}, details: [] })
    await expectRoundOrigins(rounds)
  }, 30_000)

  test(`tag invalidation across processes (${roles}): a product write reaches the cached product list on B (50 rounds)`, async () => {
    const seed = (Date.now() ^ 0x2545f491) >>> 0
    const random = prng(seed)
    await resetBoth()
    const rounds = new Rounds(pair)
    for (let i = 0; i < 50; i++) await rounds.round(productList(1 + Math.floor(random() * 20)))
    console.log(rounds.summary(`product list (tag products), ${roles}`, seed))
    expect(rounds.violations(true)).toEqual({ counts: {}, details: [] })
    await expectRoundOrigins(rounds)
  }, 30_000)

  test(`L2 sharing between ${kindA} and ${kindB}: a miss on one process makes the first request on the other a HIT, with no origin call there`, async () => {
    const { a, b, agent } = pair
    // Different keys in each direction, so that neither process has them in memory.
    const urls = {
      'a→b': [
        '/products/901',
        '/products/902?lang=fr',
        '/products?category=cat-3&page=2',
        '/assets/blob-4096.bin',
      ],
      'b→a': [
        '/products/903',
        '/products/904?lang=fr',
        '/products?page=2&category=cat-4',
        '/assets/blob-4097.bin',
      ],
    }
    const seen: string[] = []
    for (const [filler, reader, list] of [
      [a, b, urls['a→b']],
      [b, a, urls['b→a']],
    ] as const) {
      for (const url of list) {
        await resetOrigin(pair, filler)
        await resetOrigin(pair, reader)
        const fill = await send(agent, filler.url, url)
        const read = await send(agent, reader.url, url)
        seen.push(`${filler.kind}→${reader.kind} ${url}: ${xCache(fill)}/${xCache(read)}`)
        expect([url, fill.status, xCache(fill)]).toEqual([url, 200, 'MISS'])
        expect([url, read.status, xCache(read)]).toEqual([url, 200, 'HIT'])
        expect(read.text).toBe(fill.text)
        expect(read.headers.etag).toBe(fill.headers.etag)
        expect([url, await originCalls(pair, filler), await originCalls(pair, reader)]).toEqual([
          url,
          1,
          0,
        ])
      }
    }
    console.log(
      `L2 sharing: ${seen.join('; ')}; origin calls on the filler: 1 each, on the reader: 0 each`,
    )
  })

  test(`a cart is shared per user across processes (${kindA} fills, ${kindB} reads), never across users`, async () => {
    const { a, b, agent } = pair
    const alice = { authorization: `Bearer alice-${pair.prefix.slice(-8)}` }
    const bob = { authorization: `Bearer bob-${pair.prefix.slice(-8)}` }
    await resetBoth()
    const added = await send(agent, a.url, '/me/cart', {
      method: 'POST',
      headers: alice,
      body: { sku: 'only-alice' },
    })
    expect(added.status).toBe(201)
    const fill = await send(agent, a.url, '/me/cart', { headers: alice })
    expect([fill.status, xCache(fill)]).toEqual([200, 'MISS'])
    const aliceOnB = await send(agent, b.url, '/me/cart', { headers: alice })
    expect([aliceOnB.status, xCache(aliceOnB)]).toEqual([200, 'HIT'])
    expect(json(aliceOnB)).toEqual(json(fill))
    const bobOnB = await send(agent, b.url, '/me/cart', { headers: bob })
    expect(bobOnB.status).toBe(200)
    expect(xCache(bobOnB)).toBe('MISS')
    expect(json(bobOnB)).toEqual({ user: bob.authorization.slice(7), items: [], version: 0 })
    // A ran the POST and alice's fill; B only bob's cart.
    expect([await originCalls(pair, a), await originCalls(pair, b)]).toEqual([2, 1])
  })

  test(`both processes (${kindA}, ${kindB}) exit 0 on SIGTERM`, async () => {
    const exits = await pair.stop()
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ])
  })
}
