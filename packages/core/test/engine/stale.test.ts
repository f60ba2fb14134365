import {
  CacheEngine,
  type Lookup,
  REVALIDATE_RETRY_MS,
  type RefreshClaim,
} from '../../src/engine/engine'
import type { Fill } from '../../src/engine/fill'
import type { RevalidateEvent, StaleEvent } from '../../src/observe/events'
import type { CacheRule } from '../../src/rules/types'
import { deferred, FakeTier } from '../fake-tier'
import { exchangeFor, FakeOrigin, lookup, type RequestOptions, request } from '../support'

/** ttl 10 s everywhere; the stale windows differ by rule. */
const rules: CacheRule[] = [
  {
    name: 'item',
    path: '/items/:id',
    ttl: 10,
    staleWhileRevalidate: 10,
    staleIfError: '30s',
    tags: ['item:{params.id}'],
  },
  { name: 'swr', path: '/swr/:id', ttl: 10, staleWhileRevalidate: '30s', tags: ['swr'] },
  { name: 'sie', path: '/sie/:id', ttl: 10, staleIfError: 30, tags: ['sie'] },
  { name: 'both', path: '/both/:id', ttl: 10, staleWhileRevalidate: 30, staleIfError: 5 },
  { name: 'plain', path: '/plain', ttl: 10 },
  { name: 'long', path: '/long/:id', ttl: 10, staleWhileRevalidate: '1h' },
]

const T0 = 1_700_000_000_000
let clock: number
/** Moves the mocked clock to `ms` after the first fill. */
const at = (ms: number) => {
  clock = T0 + ms
}

beforeEach(() => {
  clock = T0
  jest.spyOn(Date, 'now').mockImplementation(() => clock)
})
afterEach(() => jest.restoreAllMocks())

const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Rig {
  engine: CacheEngine
  origin: FakeOrigin
  staleEvents: StaleEvent[]
  revalidateEvents: RevalidateEvent[]
}

function rig(engine = new CacheEngine({ rules })): Rig {
  const staleEvents: StaleEvent[] = []
  const revalidateEvents: RevalidateEvent[] = []
  engine.on('stale', (e) => staleEvents.push(e))
  engine.on('revalidate', (e) => revalidateEvents.push(e))
  return { engine, origin: new FakeOrigin(), staleEvents, revalidateEvents }
}

/** A lookup that must not wait (memory tier only, nothing in flight). */
function now(engine: CacheEngine, url: string, opts?: RequestOptions): Lookup {
  const l = lookup(engine, url, opts)
  if (l instanceof Promise) throw new Error('expected a synchronous lookup')
  return l
}

function missFill(l: Lookup): Fill {
  if (l.type !== 'miss') throw new Error(`expected a miss, got ${l.type}`)
  return l.fill
}

function staleOf(l: Lookup) {
  if (l.type !== 'stale') throw new Error(`expected stale, got ${l.type}`)
  return l
}

/** The background refresh an adapter would run for `url`. */
function revalidate(engine: CacheEngine, url: string, opts?: RequestOptions) {
  const { ex, m } = exchangeFor(engine, url, opts)
  return engine.revalidate(m, ex)
}

describe('stale-while-revalidate (memory tier)', () => {
  test('fresh until the ttl, then stale; only the first stale lookup claims the refresh', async () => {
    const r = rig()
    expect((await request(r.engine, r.origin, '/items/1')).outcome).toBe('miss')
    at(9_999)
    expect(now(r.engine, '/items/1').type).toBe('hit')
    at(10_000)
    const looks = [now(r.engine, '/items/1'), now(r.engine, '/items/1'), now(r.engine, '/items/1')]
    const stale = looks.map(staleOf)
    expect(stale.map((l) => l.reason)).toEqual(['revalidate', 'revalidate', 'revalidate'])
    expect(stale.map((l) => l.entry.body.toString())).toEqual(['v1', 'v1', 'v1'])
    expect(stale[0]?.refresh).toEqual({
      key: expect.stringContaining('/items/1'),
      until: expect.any(Number),
    })
    expect(stale[1]?.refresh).toBeUndefined()
    expect(stale[2]?.refresh).toBeUndefined()
    expect(r.engine.stats().revalidations).toEqual({
      started: 1,
      ahead: 0,
      stored: 0,
      notStored: 0,
      skipped: 0,
    })
    expect(r.engine.stats().stale).toEqual({ revalidate: 3, error: 0, timeout: 0 })
    expect(r.staleEvents).toEqual(
      Array.from({ length: 3 }, () => ({ rule: 'item', reason: 'revalidate', staleMs: 0 })),
    )
    at(12_500)
    staleOf(now(r.engine, '/items/1'))
    expect(r.staleEvents.at(-1)).toEqual({ rule: 'item', reason: 'revalidate', staleMs: 2_500 })
    expect(r.origin.calls).toBe(1)
  })

  test('peek() answers fresh entries only, never a stale one', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    const { ex, m } = exchangeFor(r.engine, '/items/1')
    expect(r.engine.peek(m, ex)?.body.toString()).toBe('v1')
    at(10_000)
    expect(r.engine.peek(m, ex)).toBeUndefined()
    expect(r.engine.stats().revalidations.started).toBe(0)
    expect(r.origin.calls).toBe(1)
  })

  test('revalidate() returns a fill whose completion stores the new entry', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    at(11_000)
    const claim = staleOf(now(r.engine, '/items/1')).refresh as RefreshClaim
    expect(claim).toBeDefined()
    const fill = revalidate(r.engine, '/items/1')
    if (fill === undefined || fill instanceof Promise) throw new Error('expected a fill')
    expect(fill.revalidation).toBe(true)
    expect(fill.leader).toBe(true)
    expect(fill.stale).toBeUndefined()
    const end = r.origin.open(fill, { body: 'new' })
    // While the refresh runs: the stale copy is served, and no other refresh is claimed.
    const during = staleOf(now(r.engine, '/items/1'))
    expect(during.entry.body.toString()).toBe('v1')
    expect(during.refresh).toBeUndefined()
    end()
    expect(r.revalidateEvents).toEqual([{ rule: 'item', outcome: 'stored' }])
    expect(r.engine.stats().revalidations).toEqual({
      started: 1,
      ahead: 0,
      stored: 1,
      notStored: 0,
      skipped: 0,
    })
    const after = now(r.engine, '/items/1')
    expect(after.type).toBe('hit')
    if (after.type === 'hit') expect(after.entry.body.toString()).toBe('new')
    // The claim was released by the fill: settling it again changes nothing.
    r.engine.refreshSettled(claim, 'item')
    expect(r.engine.stats().revalidations.notStored).toBe(0)
    expect(r.revalidateEvents).toHaveLength(1)
    // The new entry goes stale in its turn: a new refresh may be claimed at once.
    at(11_000 + 10_000)
    expect(staleOf(now(r.engine, '/items/1')).refresh).toBeDefined()
    expect(r.engine.stats().revalidations.started).toBe(2)
    expect(r.origin.calls).toBe(2)
  })

  test('a refresh whose origin answers 503 stores nothing; the next claim waits REVALIDATE_RETRY_MS', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    at(10_000)
    expect(staleOf(now(r.engine, '/items/1')).refresh).toBeDefined()
    const fill = revalidate(r.engine, '/items/1')
    if (fill === undefined || fill instanceof Promise) throw new Error('expected a fill')
    r.origin.serve(fill, { status: 503 })
    expect(fill.failed).toBe(true)
    expect(r.revalidateEvents).toEqual([{ rule: 'item', outcome: 'not-stored' }])
    expect(r.engine.stats().revalidations).toEqual({
      started: 1,
      ahead: 0,
      stored: 0,
      notStored: 1,
      skipped: 0,
    })
    // Still the old copy, served stale, without a new claim for REVALIDATE_RETRY_MS.
    at(10_000 + REVALIDATE_RETRY_MS - 1)
    const held = staleOf(now(r.engine, '/items/1'))
    expect(held.entry.body.toString()).toBe('v1')
    expect(held.refresh).toBeUndefined()
    at(10_000 + REVALIDATE_RETRY_MS)
    expect(staleOf(now(r.engine, '/items/1')).refresh).toBeDefined()
    expect(staleOf(now(r.engine, '/items/1')).refresh).toBeUndefined()
    expect(r.engine.stats().revalidations.started).toBe(2)
    // No hit-for-pass marker either: the next refresh gets a fill.
    const again = revalidate(r.engine, '/items/1')
    expect(again).toBeDefined()
    expect(r.origin.calls).toBe(2)
  })

  test('refreshSettled() on a claim whose fill never started releases it (after the retry pause)', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    at(10_000)
    const claim = staleOf(now(r.engine, '/items/1')).refresh as RefreshClaim
    expect(staleOf(now(r.engine, '/items/1')).refresh).toBeUndefined()
    r.engine.refreshSettled(claim, 'item')
    expect(r.revalidateEvents).toEqual([{ rule: 'item', outcome: 'not-stored' }])
    expect(r.engine.stats().revalidations).toEqual({
      started: 1,
      ahead: 0,
      stored: 0,
      notStored: 1,
      skipped: 0,
    })
    at(10_000 + REVALIDATE_RETRY_MS - 1)
    expect(staleOf(now(r.engine, '/items/1')).refresh).toBeUndefined()
    at(10_000 + REVALIDATE_RETRY_MS)
    const next = staleOf(now(r.engine, '/items/1')).refresh
    expect(next).toBeDefined()
    // The old claim is no longer the key's: settling it again does not release the new one.
    r.engine.refreshSettled(claim, 'item')
    expect(r.engine.stats().revalidations.notStored).toBe(1)
    at(10_000 + 2 * REVALIDATE_RETRY_MS)
    expect(staleOf(now(r.engine, '/items/1')).refresh).toBeUndefined()
    expect(r.origin.calls).toBe(1)
  })

  test('a claim whose refresh never reports is given up after refreshTimeoutMs', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/long/1')
    at(10_000)
    expect(staleOf(now(r.engine, '/long/1')).refresh).toBeDefined()
    const timeout = r.engine.refreshTimeoutMs
    expect(timeout).toBeGreaterThanOrEqual(60_000)
    at(10_000 + timeout - 1)
    expect(staleOf(now(r.engine, '/long/1')).refresh).toBeUndefined()
    at(10_000 + timeout)
    expect(staleOf(now(r.engine, '/long/1')).refresh).toBeDefined()
    expect(r.engine.stats().revalidations.started).toBe(2)
    expect(r.origin.calls).toBe(1)
  })

  test('revalidate() is skipped when a fill of the key is already at the origin', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    at(10_000)
    staleOf(now(r.engine, '/items/1'))
    const first = revalidate(r.engine, '/items/1')
    if (first === undefined || first instanceof Promise) throw new Error('expected a fill')
    expect(revalidate(r.engine, '/items/1')).toBeUndefined()
    expect(r.revalidateEvents).toEqual([{ rule: 'item', outcome: 'skipped' }])
    expect(r.engine.stats().revalidations.skipped).toBe(1)
    r.origin.serve(first)
    expect(r.engine.stats().revalidations.stored).toBe(1)
    expect(r.origin.calls).toBe(2)
  })

  test('revalidate() is skipped for a request the rule bypasses', async () => {
    const r = rig()
    expect(revalidate(r.engine, '/items/1', { headers: { cookie: 'a=1' } })).toBeUndefined()
    expect(r.revalidateEvents).toEqual([{ rule: 'item', outcome: 'skipped' }])
    expect(r.origin.calls).toBe(0)
  })

  test('with a window longer than staleIfError, stale-while-revalidate wins inside it', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/both/1')
    at(10_000 + 20_000) // past staleIfError (5 s), inside staleWhileRevalidate (30 s)
    expect(staleOf(now(r.engine, '/both/1')).reason).toBe('revalidate')
    at(10_000 + 30_000)
    const l = now(r.engine, '/both/1')
    expect(l.type).toBe('miss')
    expect(missFill(l).stale).toBeUndefined()
    expect(r.origin.calls).toBe(1)
  })
})

describe('stale-if-error (memory tier)', () => {
  /** Fills `/items/1` and moves past its stale-while-revalidate window, inside stale-if-error. */
  async function expiredPastSwr(r: Rig): Promise<void> {
    await request(r.engine, r.origin, '/items/1')
    at(10_000 + 10_000)
  }

  test('past stale-while-revalidate inside stale-if-error: a miss carrying the stale copy', async () => {
    const r = rig()
    await expiredPastSwr(r)
    const fill = missFill(now(r.engine, '/items/1'))
    expect(fill.leader).toBe(true)
    expect(fill.stale?.body.toString()).toBe('v1')
    expect(fill.revalidation).toBe(false)
    expect(r.engine.stats().revalidations.started).toBe(0)
    r.origin.serve(fill)
    expect(now(r.engine, '/items/1').type).toBe('hit')
    expect(r.origin.calls).toBe(2)
  })

  test('a 5xx then serveStale(): the stale copy, nothing stored, counted', async () => {
    const r = rig()
    await expiredPastSwr(r)
    const fill = missFill(now(r.engine, '/items/1'))
    r.origin.calls++
    fill.onHeaders(503, { 'content-type': 'text/plain' })
    expect(fill.failed).toBe(true)
    const served = fill.serveStale(503)
    expect(served).toBe(fill.stale)
    expect(served.body.toString()).toBe('v1')
    expect(r.engine.stats().stale).toEqual({ revalidate: 0, error: 1, timeout: 0 })
    expect(r.staleEvents).toEqual([{ rule: 'item', reason: 'error', staleMs: 10_000 }])
    // The 503 was not stored, and the old copy remains the fallback of the next miss.
    const next = missFill(now(r.engine, '/items/1'))
    expect(next.leader).toBe(true)
    expect(next.stale?.body.toString()).toBe('v1')
    expect(r.origin.calls).toBe(2)
  })

  test('a thrown error (no headers): serveStale(0) stands in the same', async () => {
    const r = rig()
    await expiredPastSwr(r)
    const fill = missFill(now(r.engine, '/items/1'))
    r.origin.calls++
    expect(fill.serveStale(0).body.toString()).toBe('v1')
    expect(fill.failed).toBe(true)
    expect(fill.status).toBe(0)
    expect(r.engine.stats().stale.error).toBe(1)
    expect(missFill(now(r.engine, '/items/1')).leader).toBe(true)
    expect(r.origin.calls).toBe(2)
  })

  test('serveStale() on a fill without a stale copy throws', async () => {
    const r = rig()
    const fill = missFill(now(r.engine, '/items/1'))
    expect(() => fill.serveStale(500)).toThrow(/without a stale copy/)
  })

  test('waiters on a failed leader holding a stale copy get it, without another origin call', async () => {
    const r = rig()
    await expiredPastSwr(r)
    const leader = missFill(now(r.engine, '/items/1'))
    const end = r.origin.open(leader, { status: 503 })
    const waiters = [
      lookup(r.engine, '/items/1'),
      lookup(r.engine, '/items/1'),
      lookup(r.engine, '/items/1'),
    ]
    for (const w of waiters) expect(w).toBeInstanceOf(Promise)
    end()
    leader.serveStale(503)
    const settled = await Promise.all(waiters)
    for (const l of settled) {
      expect(l).toMatchObject({ type: 'stale', reason: 'error', refresh: undefined })
      if (l.type === 'stale') expect(l.entry.body.toString()).toBe('v1')
    }
    expect(r.origin.calls).toBe(2)
    expect(r.engine.stats().stale).toEqual({ revalidate: 0, error: 4, timeout: 0 })
    expect(r.staleEvents.map((e) => e.reason)).toEqual(['error', 'error', 'error', 'error'])
  })

  test('waiters on a leader that threw (aborted) with a stale copy get it too', async () => {
    const r = rig()
    await expiredPastSwr(r)
    const leader = missFill(now(r.engine, '/items/1'))
    r.origin.calls++
    const waiter = lookup(r.engine, '/items/1')
    leader.onHeaders(200, {})
    leader.onChunk(Buffer.from('par'))
    leader.onAbort()
    expect(await waiter).toMatchObject({ type: 'stale', reason: 'error' })
    expect(r.origin.calls).toBe(2)
  })

  test('waiters on a leader whose response was vetoed (not failed) go to the origin themselves', async () => {
    const r = rig()
    await expiredPastSwr(r)
    const leader = missFill(now(r.engine, '/items/1'))
    const end = r.origin.open(leader, { headers: { 'set-cookie': 'a=1' } })
    const waiter = lookup(r.engine, '/items/1')
    end()
    const l = await waiter
    expect(l.type).toBe('miss')
    r.origin.serve(missFill(l))
    expect(r.origin.calls).toBe(3)
  })

  test('a 5xx sets no hit-for-miss marker: the next concurrent lookups coalesce again', async () => {
    const r = rig()
    const leader = missFill(now(r.engine, '/plain'))
    const end = r.origin.open(leader, { status: 500 })
    const waiter = lookup(r.engine, '/plain')
    end()
    const w = await waiter
    expect(missFill(w).leader).toBe(false)
    r.origin.serve(missFill(w), { status: 500 })
    // A new leader, and a lookup behind it waits instead of going to the origin.
    const next = missFill(now(r.engine, '/plain'))
    expect(next.leader).toBe(true)
    const behind = lookup(r.engine, '/plain')
    expect(behind).toBeInstanceOf(Promise)
    r.origin.serve(next, { body: 'ok' })
    expect(await behind).toMatchObject({ type: 'hit' })
    expect(r.origin.calls).toBe(3)
  })

  test('a veto (no-store) does set the hit-for-miss marker: the next lookups do not queue', async () => {
    const r = rig()
    r.origin.serve(missFill(now(r.engine, '/plain')), { headers: { 'cache-control': 'no-store' } })
    const next = missFill(now(r.engine, '/plain'))
    expect(next.leader).toBe(false)
    expect(lookup(r.engine, '/plain')).not.toBeInstanceOf(Promise)
    expect(r.origin.calls).toBe(1)
  })

  test('past both windows: a plain miss without a stale copy; the entry is gone', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    expect(r.engine.l1?.size).toBe(1)
    at(10_000 + 30_000)
    const fill = missFill(now(r.engine, '/items/1'))
    expect(fill.stale).toBeUndefined()
    expect(r.engine.l1?.size).toBe(0)
    r.origin.serve(fill, { status: 503 })
    expect(r.engine.stats().stale).toEqual({ revalidate: 0, error: 0, timeout: 0 })
    expect(r.origin.calls).toBe(2)
  })

  test('a rule without stale windows: an expired entry is a plain miss', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/plain')
    at(10_000)
    expect(missFill(now(r.engine, '/plain')).stale).toBeUndefined()
    expect(r.engine.l1?.size).toBe(0)
    expect(r.origin.calls).toBe(1)
  })
})

describe('an invalidated entry is never served stale', () => {
  test.each<[string, number]>([
    ['inside stale-while-revalidate', 10_000],
    ['inside stale-if-error', 20_000],
    ['while still fresh', 5_000],
  ])('%s', async (_, offset) => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    await request(r.engine, r.origin, '/items/2')
    at(offset)
    await r.engine.invalidate({ tags: ['item:1'] })
    const fill = missFill(now(r.engine, '/items/1'))
    expect(fill.stale).toBeUndefined()
    // The origin fails: nothing to stand in for it.
    r.origin.serve(fill, { status: 503 })
    const again = missFill(now(r.engine, '/items/1'))
    expect(again.stale).toBeUndefined()
    r.origin.serve(again, { body: 'fresh' })
    expect(now(r.engine, '/items/1')).toMatchObject({ type: 'hit' })
    // The other entry keeps its stale windows.
    expect(now(r.engine, '/items/2').type).toBe(
      offset < 10_000 ? 'hit' : offset < 20_000 ? 'stale' : 'miss',
    )
    expect(r.engine.stats().stale.error).toBe(0)
    expect(r.origin.calls).toBe(4)
  })

  test('a waiter holding a stale copy invalidated meanwhile goes to the origin', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    at(20_000)
    const leader = missFill(now(r.engine, '/items/1'))
    const end = r.origin.open(leader, { status: 503 })
    const waiter = lookup(r.engine, '/items/1')
    await r.engine.invalidate({ tags: ['item:1'] })
    end()
    const l = await waiter
    expect(l.type).toBe('miss')
    r.origin.serve(missFill(l))
    expect(r.engine.stats().stale.error).toBe(0)
    expect(r.origin.calls).toBe(3)
  })

  test("the leader's stale-if-error copy invalidated while its origin runs is not served", async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    at(20_000)
    const leader = missFill(now(r.engine, '/items/1'))
    expect(leader.stale).toBeDefined()
    r.origin.calls++
    await r.engine.invalidate({ tags: ['item:1'] })
    leader.onHeaders(503, {})
    // invalidate() resolved: the copy stored before it must not be served any more.
    expect(leader.stale).toBeUndefined()
    expect(() => leader.serveStale(503)).toThrow(/without a stale copy/)
    expect(r.engine.stats().stale.error).toBe(0)
    expect(r.origin.calls).toBe(2)
  })

  test('a refresh whose fill raced an invalidation stores nothing', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/items/1')
    at(10_000)
    staleOf(now(r.engine, '/items/1'))
    const fill = revalidate(r.engine, '/items/1')
    if (fill === undefined || fill instanceof Promise) throw new Error('expected a fill')
    const end = r.origin.open(fill)
    await r.engine.invalidate({ tags: ['item:1'] })
    end()
    expect(r.revalidateEvents).toEqual([{ rule: 'item', outcome: 'not-stored' }])
    const l = now(r.engine, '/items/1')
    expect(l.type).toBe('miss')
    expect(missFill(l).stale).toBeUndefined()
    expect(r.origin.calls).toBe(2)
  })
})

describe('entry lifetime', () => {
  test.each<[string, string, number]>([
    ['item', '/items/1', 10_000 + 30_000],
    ['swr', '/swr/1', 10_000 + 30_000],
    ['sie', '/sie/1', 10_000 + 30_000],
    ['both', '/both/1', 10_000 + 30_000],
    ['plain', '/plain', 10_000],
  ])(
    '%s: lifetimeMs is ttl + the longer window; the entry is deleted then',
    async (name, url, lifetime) => {
      const r = rig()
      const rule = r.engine.rules.rules.find((x) => x.name === name)
      if (rule?.kind !== 'cache') throw new Error('expected a cache rule')
      expect(rule.lifetimeMs).toBe(lifetime)
      expect(rule.lifetimeMs).toBe(
        rule.ttlMs + Math.max(rule.staleWhileRevalidateMs, rule.staleIfErrorMs),
      )
      await request(r.engine, r.origin, url)
      const entry = now(r.engine, url)
      if (entry.type !== 'hit') throw new Error('expected a hit')
      expect(entry.entry.staleAt).toBe(T0 + 10_000)
      expect(entry.entry.deleteAt).toBe(T0 + lifetime)
      at(lifetime - 1)
      expect(r.engine.l1?.get(entry.entry.key, clock)).toBeDefined()
      at(lifetime)
      expect(r.engine.l1?.get(entry.entry.key, clock)).toBeUndefined()
      expect(r.engine.l1?.size).toBe(0)
      expect(r.origin.calls).toBe(1)
    },
  )

  test('swr only: stale until the end of its window, then a miss', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/swr/1')
    at(10_000 + 29_999)
    expect(staleOf(now(r.engine, '/swr/1')).reason).toBe('revalidate')
    at(10_000 + 30_000)
    expect(missFill(now(r.engine, '/swr/1')).stale).toBeUndefined()
    expect(r.origin.calls).toBe(1)
  })

  test('sie only: a miss with the stale copy from the ttl on, never stale-while-revalidate', async () => {
    const r = rig()
    await request(r.engine, r.origin, '/sie/1')
    at(10_000)
    const fill = missFill(now(r.engine, '/sie/1'))
    expect(fill.stale?.body.toString()).toBe('v1')
    expect(r.engine.stats().revalidations.started).toBe(0)
    r.origin.serve(fill)
    expect(r.origin.calls).toBe(2)
  })
})

describe('stale copies from the shared tier', () => {
  /** Two engines ("processes") on one fake shared tier. */
  async function pair() {
    const tier = new FakeTier()
    const a = rig(new CacheEngine({ rules, store: { l2: tier } }))
    const b = rig(new CacheEngine({ rules, store: { l2: tier } }))
    await a.engine.start()
    await b.engine.start()
    return { tier, a, b, origin: a.origin }
  }

  test("another process's entry inside stale-while-revalidate: stale, promoted, one claim", async () => {
    const { tier, a, b, origin } = await pair()
    await request(a.engine, origin, '/items/1')
    await flush()
    expect(tier.entries.size).toBe(1)
    at(10_000)
    const first = staleOf(await lookup(b.engine, '/items/1'))
    expect(first.entry.body.toString()).toBe('v1')
    expect(first.refresh).toBeDefined()
    expect(b.engine.l1?.size).toBe(1)
    const reads = tier.calls.read
    // Promoted: the next stale lookup is answered from memory, without a claim.
    const second = staleOf(await lookup(b.engine, '/items/1'))
    expect(second.refresh).toBeUndefined()
    expect(tier.calls.read).toBe(reads)
    expect(b.engine.stats().revalidations.started).toBe(1)
    expect(origin.calls).toBe(1)
  })

  test('a refresh through the shared tier writes the new entry there', async () => {
    const { tier, a, origin } = await pair()
    await request(a.engine, origin, '/items/1')
    await flush()
    at(10_000)
    staleOf(now(a.engine, '/items/1'))
    const fill = await revalidate(a.engine, '/items/1')
    if (fill === undefined) throw new Error('expected a fill')
    expect(fill.revalidation).toBe(true)
    expect(fill.remote).toEqual({ lock: true })
    origin.serve(fill, { body: 'new' })
    await flush()
    expect(a.revalidateEvents).toEqual([{ rule: 'item', outcome: 'stored' }])
    expect(tier.calls.write).toBe(2)
    expect(tier.entries.values().next().value?.body.toString()).toBe('new')
    expect(now(a.engine, '/items/1')).toMatchObject({ type: 'hit' })
    expect(origin.calls).toBe(2)
  })

  test('revalidate() when the shared tier already has a fresh copy: skipped, the copy promoted', async () => {
    const { tier, a, b, origin } = await pair()
    await request(a.engine, origin, '/items/1')
    await flush()
    at(10_000)
    // b is served the old copy (and claims its refresh); a refreshes it meanwhile.
    const claim = staleOf(await lookup(b.engine, '/items/1')).refresh
    expect(claim).toBeDefined()
    staleOf(now(a.engine, '/items/1'))
    const fill = await revalidate(a.engine, '/items/1')
    if (fill === undefined) throw new Error('expected a fill')
    origin.serve(fill, { body: 'new' })
    await flush()
    // b's refresh finds the fresh copy in the shared tier: nothing to do.
    expect(await revalidate(b.engine, '/items/1')).toBeUndefined()
    expect(b.revalidateEvents).toEqual([{ rule: 'item', outcome: 'skipped' }])
    const l = now(b.engine, '/items/1')
    expect(l.type).toBe('hit')
    if (l.type === 'hit') expect(l.entry.body.toString()).toBe('new')
    expect(tier.calls.write).toBe(2)
    expect(origin.calls).toBe(2)
  })

  test('the internal request ending before the shared write: refreshSettled() does not end the refresh', async () => {
    // The adapter settles its claim when the internal request finishes, which
    // can be before the fill's write to the shared tier has answered.
    const { tier, a, origin } = await pair()
    await request(a.engine, origin, '/items/1')
    await flush()
    at(10_000)
    const claim = staleOf(now(a.engine, '/items/1')).refresh as RefreshClaim
    const fill = await revalidate(a.engine, '/items/1')
    if (fill === undefined) throw new Error('expected a fill')
    const gate = deferred()
    tier.gates.write = gate.promise
    origin.serve(fill, { body: 'new' })
    a.engine.refreshSettled(claim, 'item')
    gate.resolve()
    await flush()
    expect(a.revalidateEvents).toEqual([{ rule: 'item', outcome: 'stored' }])
    expect(a.engine.stats().revalidations).toEqual({
      started: 1,
      ahead: 0,
      stored: 1,
      notStored: 0,
      skipped: 0,
    })
    expect(now(a.engine, '/items/1')).toMatchObject({ type: 'hit' })
    expect(origin.calls).toBe(2)
  })

  test('refreshSettled() after revalidate() found nothing to do changes nothing', async () => {
    const { tier, a, origin } = await pair()
    await request(a.engine, origin, '/items/1')
    await flush()
    at(10_000)
    const claim = staleOf(now(a.engine, '/items/1')).refresh as RefreshClaim
    tier.busy.add(tier.entries.keys().next().value as string)
    expect(await revalidate(a.engine, '/items/1')).toBeUndefined()
    a.engine.refreshSettled(claim, 'item')
    expect(a.revalidateEvents).toEqual([{ rule: 'item', outcome: 'skipped' }])
    expect(a.engine.stats().revalidations).toEqual({
      started: 1,
      ahead: 0,
      stored: 0,
      notStored: 0,
      skipped: 1,
    })
    expect(origin.calls).toBe(1)
  })

  test('revalidate() when another process holds the fill lock: skipped at once, no wait', async () => {
    const { tier, a, origin } = await pair()
    await request(a.engine, origin, '/items/1')
    await flush()
    at(10_000)
    staleOf(now(a.engine, '/items/1'))
    const key = tier.entries.keys().next().value as string
    tier.busy.add(key)
    expect(await revalidate(a.engine, '/items/1')).toBeUndefined()
    expect(a.revalidateEvents).toEqual([{ rule: 'item', outcome: 'skipped' }])
    expect(a.engine.stats().revalidations.skipped).toBe(1)
    // Its flight was released: a later refresh may run.
    tier.busy.delete(key)
    expect(await revalidate(a.engine, '/items/1')).toBeDefined()
    expect(origin.calls).toBe(1)
  })

  test("another process's entry inside stale-if-error: the miss carries it; a 5xx serves it", async () => {
    const { tier, a, b, origin } = await pair()
    await request(a.engine, origin, '/items/1')
    await flush()
    at(20_000)
    const fill = missFill(await lookup(b.engine, '/items/1'))
    expect(fill.stale?.body.toString()).toBe('v1')
    expect(fill.remote).toEqual({ lock: true })
    origin.serve(fill, { status: 502 })
    expect(fill.serveStale(502).body.toString()).toBe('v1')
    await flush()
    expect(tier.calls.write).toBe(1)
    expect(tier.abandoned).toHaveLength(1)
    expect(tier.abandoned[0]?.marker).toBeUndefined()
    expect(b.engine.stats().stale.error).toBe(1)
    expect(origin.calls).toBe(2)
  })
})
