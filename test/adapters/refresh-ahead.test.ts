import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheOptions, CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { sharedRedisUrl } from '../support/redis/shared'
import { send } from '../support/shops'
import { type Respond, type SmallApp, smallApps } from '../support/small-apps'

// `refreshAhead` and `ttlJitter` on the three adapters, over real HTTP, in
// memory and on a real Redis: a hit past the refresh point is answered from
// the cache and starts one background refresh (one in the cluster); a copy
// nobody reads is not refreshed; jitter shortens ttls and never lengthens
// them. Every test counts the route's runs.

const TTL_S = 10
/** Past the refresh point (0.5 of the ttl), still fresh. */
const AHEAD_MS = 6_000

const rules: CacheRule[] = [
  { path: '/item/:id', ttl: TTL_S, refreshAhead: 0.5 },
  { path: '/plain/:id', ttl: TTL_S },
  { path: '/jitter/:id', ttl: TTL_S, ttlJitter: 0.5 },
]

/** The route's answer: its path, then `label` (to tell apps apart) and its run number. */
const labelled =
  (label: string): Respond =>
  ({ path }, count) => ({ body: `${path} ${label}v${count(path)}` })

// The cache's clock: moved forward past the refresh point without sleeping.
// Timers are not moved, so the background refresh runs in real time.
const realNow = Date.now
function advanceClock(ms: number): void {
  const shifted = Date.now
  Date.now = () => shifted() + ms
}

/** Polls `done` (real time, bounded) for background work nobody waits on. */
async function until(what: string, done: () => boolean, limitMs = 5_000): Promise<void> {
  const deadline = performance.now() + limitMs
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

const body = async (url: string, path: string) => {
  const r = await send(url, { method: 'GET', path })
  return [r.headers['x-cache'], r.body.toString('utf8')]
}

const running: SmallApp[] = []
afterEach(async () => {
  Date.now = realNow
  await Promise.all(running.splice(0).map((a) => a.close()))
})

describe.each(smallApps)('%s', (_, build) => {
  const start = async (options: CacheOptions = { rules }, edge = false, label = '') => {
    const app = await build(options, edge, labelled(label))
    running.push(app)
    return app
  }

  test.each([false, true])(
    'a hit past the refresh point is answered from the cache and refreshes the copy once (edge: %s)',
    async (edge) => {
      const app = await start({ rules }, edge)
      const calls = () => app.calls.get('/item/1') ?? 0
      expect(await body(app.url, '/item/1')).toEqual(['MISS', '/item/1 v1'])
      expect(await body(app.url, '/item/1')).toEqual(['HIT', '/item/1 v1'])
      expect(calls()).toBe(1)

      advanceClock(AHEAD_MS)
      // Twenty hits at once past the point: all answered from the cache (the
      // old copy, or the refreshed one once it is in), one refresh.
      const replies = await Promise.all(Array.from({ length: 20 }, () => body(app.url, '/item/1')))
      expect(replies.filter(([x]) => x !== 'HIT')).toEqual([])
      expect(replies.map(([, b]) => b)).toContain('/item/1 v1')
      expect(replies.filter(([, b]) => b !== '/item/1 v1' && b !== '/item/1 v2')).toEqual([])
      await until('the refresh', () => app.cache.engine.stats().revalidations.stored === 1)
      expect(calls()).toBe(2)
      expect(app.cache.engine.stats().revalidations).toMatchObject({ started: 1, ahead: 1 })
      // The refreshed copy is served, fresh for a whole ttl from its refresh.
      expect(await body(app.url, '/item/1')).toEqual(['HIT', '/item/1 v2'])
      advanceClock(AHEAD_MS)
      // Past the first copy's expiry (12 s after it was stored): still a hit.
      expect((await body(app.url, '/item/1'))[0]).toBe('HIT')
      await until('the second refresh', () => calls() === 3)
      // Hits counted are the clients' (1 + 20 + 2), never the cache's own refreshes.
      await until(
        'the second refresh to end',
        () => app.cache.engine.stats().revalidations.stored === 2,
      )
      expect(app.cache.engine.stats().rules[0]?.hits.memory).toBe(23)
    },
  )

  test('a copy nobody reads is not refreshed; a rule without refreshAhead is not either', async () => {
    const app = await start()
    await body(app.url, '/item/2')
    await body(app.url, '/plain/2')
    advanceClock(AHEAD_MS)
    await sleep(200)
    expect(app.calls.get('/item/2')).toBe(1)
    expect(await body(app.url, '/plain/2')).toEqual(['HIT', '/plain/2 v1'])
    await sleep(200)
    expect(app.calls.get('/plain/2')).toBe(1)
    expect(app.cache.engine.stats().revalidations.started).toBe(0)
  })

  test('ttlJitter: each copy expires at most that fraction early, never late', async () => {
    const app = await start()
    const keys = Array.from({ length: 40 }, (_, i) => `/jitter/${i}`)
    for (const k of keys) await body(app.url, k)
    const explained = keys.map((url) => app.cache.explain({ url }))
    const ttls = explained.map((e) => e.memory?.ttlSeconds ?? Number.NaN)
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(TTL_S * 0.5 - 1)
      expect(ttl).toBeLessThanOrEqual(TTL_S)
    }
    // Spread: 40 copies filled within a second do not share one expiry.
    expect(new Set(ttls).size).toBeGreaterThan(1)
    expect(keys.map((k) => app.calls.get(k))).toEqual(keys.map(() => 1))
  })

  test('on a shared Redis: two processes past the point make one origin call in the cluster', async () => {
    const prefix = `refresh-ahead-${randomBytes(4).toString('hex')}`
    const options = (): CacheOptions => ({
      rules,
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix }) },
    })
    const a = await start(options(), false, 'a')
    const b = await start(options(), false, 'b')
    await Promise.all([a.cache.ready, b.cache.ready])
    expect(await body(a.url, '/item/3')).toEqual(['MISS', '/item/3 av1'])
    // B reads A's copy from Redis (its own route never ran).
    expect(await body(b.url, '/item/3')).toEqual(['HIT', '/item/3 av1'])
    const cluster = () => (a.calls.get('/item/3') ?? 0) + (b.calls.get('/item/3') ?? 0)
    expect(cluster()).toBe(1)

    advanceClock(AHEAD_MS)
    const both = await Promise.all([
      ...Array.from({ length: 10 }, () => body(a.url, '/item/3')),
      ...Array.from({ length: 10 }, () => body(b.url, '/item/3')),
    ])
    expect(both.every(([x]) => x === 'HIT')).toBe(true)
    await until('the refresh', () => cluster() === 2)
    const stats = () => [a, b].map((p) => p.cache.engine.stats().revalidations)
    // Each process claims its own refresh; one of them fills, the other finds
    // the fresh copy in Redis (or the lock held) and stands aside.
    await until('both refreshes to end', () =>
      stats().every((r) => r.stored + r.skipped + r.notStored === r.started),
    )
    await sleep(100)
    expect(cluster()).toBe(2)
    // Exactly one process refreshed. The other stood aside: it found the
    // copy refreshed in Redis, or the fill lock held, and then it starts no
    // new refresh for a second while its own copy is still fresh.
    const copy = (a.calls.get('/item/3') ?? 0) === 2 ? '/item/3 av2' : '/item/3 bv1'
    expect(stats().reduce((n, r) => n + r.stored, 0)).toBe(1)
    advanceClock(1_100)
    // After the pause its next hit refreshes again and takes the copy from Redis.
    for (const p of [a, b]) expect((await body(p.url, '/item/3'))[0]).toBe('HIT')
    await until('the last refreshes to end', () =>
      stats().every((r) => r.stored + r.skipped + r.notStored === r.started),
    )
    expect(await body(a.url, '/item/3')).toEqual(['HIT', copy])
    expect(await body(b.url, '/item/3')).toEqual(['HIT', copy])
    expect(cluster()).toBe(2)
  })
})
