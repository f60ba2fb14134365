import { type ShopKind, shopEntry } from '../support/processes'
import { originCalls, type Pair, resetOrigin, startPair } from './cluster'
import { json, ms, quantile, send, sleep, Tally, xCache } from './http'

// A cold key asked for by 100 clients on each of two processes at the same time,
// while every origin call takes 200 ms: the per-process flight and the Redis fill
// lock between processes must make that exactly one origin call in the cluster.

const PER_PROCESS = 100
const DELAY_MS = 200

/**
 * The stampede tests on the Redis (URL, seeds or sentinel://) that `redisUrl` names once
 * started, on two processes A and B of the given kinds (Express and Koa by default).
 */
export function stampedeSuite(
  redisUrl: () => string,
  label = 'stampede',
  kinds: [ShopKind, ShopKind] = ['express', 'koa'],
): void {
  let pair: Pair
  const [kindA, kindB] = kinds

  beforeAll(async () => {
    for (const kind of kinds) shopEntry(kind)
    pair = await startPair(redisUrl(), label, { ORIGIN_DELAY_MS: String(DELAY_MS) }, kinds)
  }, 30_000)

  afterAll(async () => {
    await pair?.stop()
  })

  test.each(['/products/42', '/products?category=cat-7&page=3', '/assets/blob-65536.bin'])(
    `%s: ${PER_PROCESS} concurrent cold requests on each of two processes (A=${kindA}, B=${kindB}) → one origin call`,
    async (url) => {
      const { a, b, agent } = pair
      const before = (await originCalls(pair, a)) + (await originCalls(pair, b))
      const started = Date.now()
      const replies = await Promise.all(
        Array.from({ length: 2 * PER_PROCESS }, (_, i) =>
          send(agent, (i % 2 === 0 ? a : b).url, url, { timeoutMs: 15_000 }),
        ),
      )
      const wall = Date.now() - started
      const callsA = await originCalls(pair, a)
      const callsB = await originCalls(pair, b)
      const calls = callsA + callsB - before

      const statuses = new Tally()
      const cacheA = new Tally()
      const cacheB = new Tally()
      replies.forEach((r, i) => {
        statuses.add(String(r.status))
        ;(i % 2 === 0 ? cacheA : cacheB).add(xCache(r))
      })
      const durations = replies.map((r) => r.ms)
      console.log(
        `stampede ${url}: origin calls=${calls} (A=${kindA} ${callsA}, B=${kindB} ${callsB} in total so far) statuses {${statuses}} ` +
          `X-Cache A=${kindA} {${cacheA}} B=${kindB} {${cacheB}} latency p50=${ms(quantile(durations, 0.5))} ` +
          `max=${ms(quantile(durations, 1))} wall=${wall}ms`,
      )
      expect(statuses.counts).toEqual({ 200: 2 * PER_PROCESS })
      expect(calls).toBe(1)
      expect(new Set(replies.map((r) => r.text)).size).toBe(1)
      // One MISS (the request that ran the origin) and HITs for the rest.
      const all = new Tally()
      for (const r of replies) all.add(xCache(r))
      expect(all.counts).toEqual({ MISS: 1, HIT: 2 * PER_PROCESS - 1 })
    },
    20_000,
  )

  test(`a fill whose origin call started before a write on the other process is not stored, on either process (A=${kindA} writes, B=${kindB} fills)`, async () => {
    const { a, b, agent } = pair
    const path = '/products/314'
    // A keyspace younger than a lease makes invalidations wait the rest of it
    // (see RedisBus.waitApplied): let one such write absorb that wait first, so
    // that the timing below is the origin delays'.
    expect(
      (await send(agent, a.url, '/products/999', { method: 'PUT', body: { price: 1 } })).status,
    ).toBe(200)
    await resetOrigin(pair, a)
    await resetOrigin(pair, b)
    // A's PUT runs its origin for 200 ms, then invalidates (about t=200 ms). B's
    // read misses at t=100 ms, so its origin call runs from t=100 to t=300: it
    // started before the invalidation and ends after it.
    const finished: string[] = []
    const put = send(agent, a.url, path, { method: 'PUT', body: { price: 3.14 } }).then((r) => {
      finished.push('put')
      return r
    })
    await sleep(DELAY_MS / 2)
    const read = send(agent, b.url, path).then((r) => {
      finished.push('read')
      return r
    })
    const [written, first] = await Promise.all([put, read])
    expect(written.status).toBe(200)
    expect([first.status, xCache(first)]).toEqual([200, 'MISS'])
    if (finished.join() !== 'put,read') {
      throw new Error(`inconclusive: the write did not finish during B's origin call (${finished})`)
    }
    const version = json<{ version: number }>(written).version
    // Neither Redis nor either memory tier may hold B's fill. A reads its own new
    // version from its origin (a HIT here would be B's racing fill, v1, from
    // Redis) and stores it; B then gets A's new version from Redis (a v1 would be
    // its racing fill, from its memory tier).
    const onA = await send(agent, a.url, path)
    const onB = await send(agent, b.url, path)
    const v = (r: typeof onA) => json<{ version: number }>(r).version
    const calls = [await originCalls(pair, a), await originCalls(pair, b)]
    console.log(
      `fill vs write (A=${kindA}, B=${kindB}): B's racing read ${xCache(first)} v${v(first)}; then A ${xCache(onA)} v${v(onA)}, B ${xCache(onB)} v${v(onB)} (A's version after the write: ${version}); origin calls A=${calls[0]} B=${calls[1]}`,
    )
    expect([onA.status, xCache(onA), v(onA)]).toEqual([200, 'MISS', version])
    expect([onB.status, xCache(onB), v(onB)]).toEqual([200, 'HIT', version])
    // A: the PUT and its own read after it; B: only the racing read (then a HIT of A's fill).
    expect(calls).toEqual([2, 1])
  }, 20_000)
}
