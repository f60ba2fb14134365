import { CacheEngine, type Lookup } from '../../src/engine/engine'
import type { BreakerEvent, TierErrorEvent } from '../../src/observe/events'
import type { CacheOptions } from '../../src/options/cache-options'
import type { CacheRule } from '../../src/rules/types'
import { DeadlineError } from '../../src/tiers/deadline'
import type { StoredResponse } from '../../src/tiers/remote-tier'
import { deferred, FakeTier } from '../fake-tier'
import { exchangeFor, FakeOrigin, lookup, request } from '../support'

const rules: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: 60, tags: ['item:{params.id}'] },
]

/** Lets the engine's background work (a write's `.then`, an abandon) run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

let clock: number
beforeEach(() => {
  clock = 1_000_000
  jest.spyOn(Date, 'now').mockImplementation(() => clock)
})
afterEach(() => jest.restoreAllMocks())

interface Rig {
  engine: CacheEngine
  tier: FakeTier
  origin: FakeOrigin
  errors: TierErrorEvent[]
  changes: BreakerEvent[]
}

async function rig(
  options: Partial<Omit<CacheOptions, 'rules'>> = {},
  tier = new FakeTier(),
): Promise<Rig> {
  const engine = new CacheEngine({
    rules,
    breaker: { cooldown: '50ms', maxCooldown: '200ms' },
    ...options,
    store: { ...options.store, l2: tier },
  })
  await engine.start()
  const errors: TierErrorEvent[] = []
  const changes: BreakerEvent[] = []
  engine.on('tier:error', (e) => errors.push(e))
  engine.on('breaker', (e) => changes.push(e))
  return { engine, tier, origin: new FakeOrigin(), errors, changes }
}

/** Requests `/items/<from>` … `/items/<to>` (distinct keys: none is a memory hit). */
async function requestRange(r: Rig, from: number, to: number): Promise<string[]> {
  const outcomes: string[] = []
  for (let i = from; i <= to; i++)
    outcomes.push((await request(r.engine, r.origin, `/items/${i}`)).outcome)
  return outcomes
}

const missFill = (l: Lookup) => {
  if (l.type !== 'miss') throw new Error(`expected a miss, got ${l.type}`)
  return l.fill
}

describe('a failing shared tier behind the breaker', () => {
  test('reads that reject: misses; the 5th failure opens the breaker; then the tier is not called', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'fail'
    expect(await requestRange(r, 1, 4)).toEqual(['miss', 'miss', 'miss', 'miss'])
    expect(r.changes).toEqual([])
    expect(r.engine.stats().l2?.breaker).toBe('closed')
    expect(await requestRange(r, 5, 5)).toEqual(['miss'])
    expect(r.tier.calls.read).toBe(5)
    expect(r.changes).toEqual([{ tier: 'fake', state: 'open', previous: 'closed', failures: 5 }])

    expect(await requestRange(r, 6, 8)).toEqual(['miss', 'miss', 'miss'])
    expect(r.tier.calls.read).toBe(5)
    expect(r.origin.calls).toBe(8)
    expect(r.errors).toHaveLength(5)
    for (const e of r.errors) {
      expect(e).toMatchObject({ tier: 'fake', operation: 'read' })
      expect(e.error).toBeInstanceOf(Error)
      expect(e.error.message).toBe('fake read failed')
    }
    expect(r.engine.stats().l2).toEqual({
      name: 'fake',
      breaker: 'open',
      breakerOpened: 1,
      breakerRejected: 3,
      errors: { read: 5, write: 0, abandon: 0, invalidate: 0 },
      timeouts: 0,
      trusted: true,
      outbox: { pending: 0, deferred: 0, replayed: 0, overflows: 0 },
    })
    // No fill had a fence of the shared tier: nothing was written or abandoned there.
    expect(r.tier.calls.write + r.tier.calls.abandon).toBe(0)
    await r.engine.close()
  })

  test('with the tier unreachable, the memory tier still serves what this process filled', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 1, 5)
    expect(r.engine.stats().l2?.breaker).toBe('open')
    expect(await requestRange(r, 1, 5)).toEqual(['hit', 'hit', 'hit', 'hit', 'hit'])
    expect(r.origin.calls).toBe(5)
    expect(r.tier.calls.read).toBe(5)
    await r.engine.close()
  })

  test('reads that never answer: DeadlineErrors, counted as timeouts; the breaker opens the same', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'hang'
    r.tier.hangMs = 15
    expect(await requestRange(r, 1, 5)).toEqual(['miss', 'miss', 'miss', 'miss', 'miss'])
    expect(r.tier.calls.read).toBe(5)
    expect(r.errors.map((e) => e.error)).toEqual(
      Array.from({ length: 5 }, () => expect.any(DeadlineError)),
    )
    expect(r.errors[0]?.error.name).toBe('DeadlineError')
    expect(r.changes).toEqual([{ tier: 'fake', state: 'open', previous: 'closed', failures: 5 }])
    // Open: answered without asking the tier (so without waiting for its deadline).
    expect(await requestRange(r, 6, 7)).toEqual(['miss', 'miss'])
    expect(r.tier.calls.read).toBe(5)
    expect(r.origin.calls).toBe(7)
    expect(r.engine.stats().l2).toMatchObject({
      breaker: 'open',
      breakerOpened: 1,
      breakerRejected: 2,
      errors: { read: 5, write: 0, abandon: 0, invalidate: 0 },
      timeouts: 5,
    })
    await r.engine.close()
  })

  test('after the cooldown one probe goes through; its success closes the breaker', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 1, 5)
    clock += 49
    await requestRange(r, 6, 6)
    expect(r.tier.calls.read).toBe(5)

    clock += 1
    r.tier.behaviour.read = 'ok'
    const gate = deferred()
    r.tier.gates.read = gate.promise
    // The probe waits on the tier; lookups meanwhile are misses without a call.
    const probe = lookup(r.engine, '/items/7')
    const others = [lookup(r.engine, '/items/8'), lookup(r.engine, '/items/9')]
    const [a, b] = await Promise.all(others)
    expect([a?.type, b?.type]).toEqual(['miss', 'miss'])
    expect(r.tier.calls.read).toBe(6)
    expect(r.engine.stats().l2?.breaker).toBe('half-open')
    gate.resolve()
    r.tier.gates.read = undefined
    const fill = missFill(await probe)
    expect(fill.remote).toEqual({ lock: true })
    expect(r.changes).toEqual([
      { tier: 'fake', state: 'open', previous: 'closed', failures: 5 },
      { tier: 'fake', state: 'half-open', previous: 'open', failures: 5 },
      { tier: 'fake', state: 'closed', previous: 'half-open', failures: 0 },
    ])
    r.origin.serve(fill)
    r.origin.calls += 2 // the two misses answered without the tier
    await flush()
    expect(r.tier.calls.write).toBe(1)
    // Closed: every lookup asks the tier again.
    await requestRange(r, 10, 11)
    expect(r.tier.calls.read).toBe(8)
    expect(r.engine.stats().l2).toMatchObject({
      breaker: 'closed',
      breakerOpened: 1,
      breakerRejected: 3,
      errors: { read: 5, write: 0, abandon: 0, invalidate: 0 },
    })
    expect(r.origin.calls).toBe(11)
    await r.engine.close()
  })

  test('a failed probe reopens it with twice the cooldown', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 1, 5)
    clock += 50
    await requestRange(r, 6, 6) // the probe, failing
    expect(r.tier.calls.read).toBe(6)
    expect(r.changes.map((c) => c.state)).toEqual(['open', 'half-open', 'open'])
    expect(r.changes[2]).toEqual({
      tier: 'fake',
      state: 'open',
      previous: 'half-open',
      failures: 6,
    })
    clock += 99
    await requestRange(r, 7, 7)
    expect(r.tier.calls.read).toBe(6)
    clock += 1
    r.tier.behaviour.read = 'ok'
    await requestRange(r, 8, 8)
    expect(r.tier.calls.read).toBe(7)
    expect(r.engine.stats().l2).toMatchObject({ breaker: 'closed', breakerOpened: 2 })
    expect(r.origin.calls).toBe(8)
    await r.engine.close()
  })

  test('a success in between resets the count: 4 failures, a success, 4 failures stay closed', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 1, 4)
    r.tier.behaviour.read = 'ok'
    await requestRange(r, 5, 5)
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 6, 9)
    expect(r.engine.stats().l2?.breaker).toBe('closed')
    expect(r.changes).toEqual([])
    expect(r.tier.calls.read).toBe(9)
    expect(r.origin.calls).toBe(9)
    await r.engine.close()
  })

  test('breaker.failures sets the threshold', async () => {
    const r = await rig({ breaker: { failures: 2, cooldown: '50ms' } })
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 1, 3)
    expect(r.tier.calls.read).toBe(2)
    expect(r.changes).toEqual([{ tier: 'fake', state: 'open', previous: 'closed', failures: 2 }])
    expect(r.origin.calls).toBe(3)
    await r.engine.close()
  })
})

describe('writes and abandons behind the breaker', () => {
  /** Starts a fill that holds the tier's fence, then opens the breaker with 5 failed reads. */
  async function fillThenOpen(r: Rig) {
    const fill = missFill(await lookup(r.engine, '/items/1'))
    expect(fill.remote).toEqual({ lock: true })
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 2, 6)
    expect(r.engine.stats().l2?.breaker).toBe('open')
    return fill
  }

  test('a write is skipped while open; the trusted memory tier still keeps the entry', async () => {
    const r = await rig()
    const fill = await fillThenOpen(r)
    r.origin.serve(fill, { body: 'one' })
    await flush()
    expect(r.tier.calls.write).toBe(0)
    expect(r.engine.stats().l2?.breakerRejected).toBe(1)
    const again = await request(r.engine, r.origin, '/items/1')
    expect(again).toEqual({ outcome: 'hit', body: 'one' })
    expect(r.tier.calls.read).toBe(6)
    expect(r.origin.calls).toBe(6)
    await r.engine.close()
  })

  test('an abandon is skipped while open (the lock is left to expire)', async () => {
    const r = await rig()
    const fill = await fillThenOpen(r)
    r.origin.serve(fill, { status: 503 })
    await flush()
    expect(r.tier.calls.abandon).toBe(0)
    expect(r.tier.locks.has(fill.key)).toBe(true)
    expect(r.origin.calls).toBe(6)
    await r.engine.close()
  })

  test('a write that rejects is reported; a trusted bus still lets the entry be stored locally', async () => {
    const r = await rig()
    r.tier.behaviour.write = 'fail'
    expect((await request(r.engine, r.origin, '/items/1')).outcome).toBe('miss')
    await flush()
    expect(r.tier.calls.write).toBe(1)
    expect(r.errors).toEqual([{ tier: 'fake', operation: 'write', error: expect.any(Error) }])
    expect(r.engine.stats().l2?.errors).toEqual({ read: 0, write: 1, abandon: 0, invalidate: 0 })
    expect((await request(r.engine, r.origin, '/items/1')).outcome).toBe('hit')
    expect(r.tier.calls.read).toBe(1)
    expect(r.origin.calls).toBe(1)
    await r.engine.close()
  })

  test('a write its fence refused is not stored locally', async () => {
    const r = await rig()
    r.tier.writeAnswer = false
    expect((await request(r.engine, r.origin, '/items/1')).outcome).toBe('miss')
    await flush()
    expect(r.engine.l1?.size).toBe(0)
    expect((await request(r.engine, r.origin, '/items/1')).outcome).toBe('miss')
    expect(r.tier.calls.read).toBe(2)
    expect(r.errors).toEqual([])
    expect(r.origin.calls).toBe(2)
    await r.engine.close()
  })

  test('a write that rejects on an untrusted bus stores nothing locally', async () => {
    const r = await rig()
    r.tier.behaviour.write = 'fail'
    r.tier.isTrusted = false
    expect((await request(r.engine, r.origin, '/items/1')).outcome).toBe('miss')
    await flush()
    expect(r.engine.l1?.size).toBe(0)
    expect(r.engine.stats().l2?.trusted).toBe(false)
    expect(r.origin.calls).toBe(1)
    await r.engine.close()
  })

  test('a write that never answers is a timeout', async () => {
    const r = await rig()
    r.tier.behaviour.write = 'hang'
    r.tier.hangMs = 10
    await request(r.engine, r.origin, '/items/1')
    while (r.errors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(r.errors[0]).toMatchObject({ operation: 'write', error: expect.any(DeadlineError) })
    expect(r.engine.stats().l2).toMatchObject({
      errors: { read: 0, write: 1, abandon: 0, invalidate: 0 },
      timeouts: 1,
    })
    expect(r.origin.calls).toBe(1)
    await r.engine.close()
  })

  test('an abandon that rejects is reported and counted', async () => {
    const r = await rig()
    r.tier.behaviour.abandon = 'fail'
    expect(
      (await request(r.engine, r.origin, '/items/1', { respond: { status: 500 } })).outcome,
    ).toBe('miss')
    await flush()
    expect(r.tier.calls.abandon).toBe(1)
    expect(r.errors).toEqual([{ tier: 'fake', operation: 'abandon', error: expect.any(Error) }])
    expect(r.engine.stats().l2?.errors.abandon).toBe(1)
    expect(r.origin.calls).toBe(1)
    await r.engine.close()
  })

  test('a 5xx is abandoned without a marker; a veto with one', async () => {
    const r = await rig()
    await request(r.engine, r.origin, '/items/1', { respond: { status: 503 } })
    await request(r.engine, r.origin, '/items/2', {
      respond: { headers: { 'cache-control': 'no-store' } },
    })
    await flush()
    expect(r.tier.abandoned).toEqual([
      { key: expect.stringContaining('/items/1'), marker: undefined },
      {
        key: expect.stringContaining('/items/2'),
        marker: { reason: expect.any(String), ms: 60_000 },
      },
    ])
    expect(r.origin.calls).toBe(2)
    await r.engine.close()
  })
})

describe('waiters and the shared write', () => {
  test('with a healthy coherent bus, waiters are released before the shared write ends', async () => {
    const r = await rig()
    const gate = deferred()
    r.tier.gates.write = gate.promise
    const fill = missFill(await lookup(r.engine, '/items/1'))
    const end = r.origin.open(fill)
    const waiters = [lookup(r.engine, '/items/1'), lookup(r.engine, '/items/1')]
    end()
    const settled = await Promise.all(waiters)
    expect(settled.map((l) => l.type)).toEqual(['hit', 'hit'])
    expect(r.tier.calls.write).toBe(1)
    expect(r.tier.entries.size).toBe(0) // the write is still held back
    gate.resolve()
    await flush()
    expect(r.tier.entries.size).toBe(1)
    expect(r.origin.calls).toBe(1)
    await r.engine.close()
  })

  test('without a bus (not coherent), waiters wait for the shared write', async () => {
    const tier = new FakeTier({ coherent: false })
    const r = await rig({ store: { l1: { maxTtl: '1m' } } }, tier)
    const gate = deferred()
    tier.gates.write = gate.promise
    const fill = missFill(await lookup(r.engine, '/items/1'))
    const end = r.origin.open(fill)
    let released = false
    const waiter = Promise.resolve(lookup(r.engine, '/items/1')).then((l) => {
      released = true
      return l
    })
    end()
    await flush()
    await flush()
    expect(released).toBe(false)
    gate.resolve()
    expect((await waiter).type).toBe('hit')
    expect(r.origin.calls).toBe(1)
    await r.engine.close()
  })
})

describe('invalidation and the breaker', () => {
  test('an invalidation on a failing tier rejects, is reported, and still applies locally', async () => {
    const r = await rig()
    await request(r.engine, r.origin, '/items/1')
    await flush()
    r.tier.behaviour.invalidate = 'fail'
    await expect(r.engine.invalidate({ tags: ['item:1'] })).rejects.toThrow(
      'fake invalidate failed',
    )
    expect(r.errors).toEqual([{ tier: 'fake', operation: 'invalidate', error: expect.any(Error) }])
    expect(r.engine.stats().l2?.errors).toEqual({ read: 0, write: 0, abandon: 0, invalidate: 1 })
    // This process's memory tier no longer serves it.
    r.tier.entries.clear()
    expect((await request(r.engine, r.origin, '/items/1')).outcome).toBe('miss')
    expect(r.origin.calls).toBe(2)
    await r.engine.close()
  })

  test('an invalidation that never answers rejects with a DeadlineError', async () => {
    const r = await rig()
    r.tier.behaviour.invalidate = 'hang'
    r.tier.hangMs = 10
    await expect(r.engine.invalidate({ tags: ['item:1'] })).rejects.toBeInstanceOf(DeadlineError)
    expect(r.engine.stats().l2).toMatchObject({ timeouts: 1, errors: { invalidate: 1 } })
    await r.engine.close()
  })

  test('an open breaker does not block an invalidation; its success closes the breaker', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'fail'
    await requestRange(r, 1, 5)
    expect(r.engine.stats().l2?.breaker).toBe('open')
    await r.engine.invalidate({ tags: ['item:1'] })
    expect(r.tier.calls.invalidate).toBe(1)
    expect(r.tier.invalidations).toHaveLength(1)
    expect(r.changes.at(-1)).toEqual({
      tier: 'fake',
      state: 'closed',
      previous: 'open',
      failures: 0,
    })
    expect(r.origin.calls).toBe(5)
    await r.engine.close()
  })

  test('an invalidation failing while the breaker is open is still attempted, and rejects', async () => {
    const r = await rig()
    r.tier.behaviour.read = 'fail'
    r.tier.behaviour.invalidate = 'fail'
    await requestRange(r, 1, 5)
    await expect(r.engine.invalidate({ tags: ['item:1'] })).rejects.toThrow()
    await expect(r.engine.invalidate({ tags: ['item:2'] })).rejects.toThrow()
    expect(r.tier.calls.invalidate).toBe(2)
    expect(r.engine.stats().l2).toMatchObject({
      breaker: 'open',
      breakerOpened: 1,
      errors: { read: 5, invalidate: 2 },
    })
    expect(r.origin.calls).toBe(5)
    await r.engine.close()
  })

  test('failed invalidations count towards opening the breaker', async () => {
    const r = await rig()
    r.tier.behaviour.invalidate = 'fail'
    for (let i = 0; i < 5; i++) await expect(r.engine.invalidate({ tags: ['x'] })).rejects.toThrow()
    expect(r.engine.stats().l2?.breaker).toBe('open')
    await requestRange(r, 1, 1)
    expect(r.tier.calls.read).toBe(0)
    expect(r.origin.calls).toBe(1)
    await r.engine.close()
  })
})

describe('stats without a shared tier', () => {
  test('l2 is undefined; l1 reports its size', async () => {
    const engine = new CacheEngine({ rules })
    const origin = new FakeOrigin()
    await request(engine, origin, '/items/1')
    const stats = engine.stats()
    expect(stats.l2).toBeUndefined()
    expect(stats.l1).toMatchObject({ entries: 1, evictions: 0, maxBytes: 64 * 1024 * 1024 })
    expect(stats.l1?.bytes).toBeGreaterThan(0)
    expect(stats.stale).toEqual({ revalidate: 0, error: 0, timeout: 0 })
    expect(stats.revalidations).toEqual({
      started: 0,
      ahead: 0,
      stored: 0,
      notStored: 0,
      skipped: 0,
    })
    expect(origin.calls).toBe(1)
  })

  test('store.l1: false reports no memory tier', () => {
    expect(new CacheEngine({ rules, store: { l1: false } }).stats().l1).toBeUndefined()
  })
})

describe('refreshAhead on a shared tier', () => {
  const ahead: CacheRule[] = [{ name: 'item', path: '/items/:id', ttl: 60, refreshAhead: 0.5 }]

  /** A tier where, just before a fill lock is taken, another process finishes its refresh. */
  class RacingTier extends FakeTier {
    beforeLock: (() => void) | undefined
    override read(
      key: string,
      tags: readonly string[],
      options: { lock: boolean; skipEntry?: boolean },
    ) {
      if (options.lock && options.skipEntry === true) {
        this.beforeLock?.()
        this.beforeLock = undefined
      }
      return super.read(key, tags, options)
    }
  }

  async function aheadRig(tier: FakeTier) {
    const engine = new CacheEngine({ rules: ahead, store: { l2: tier } })
    await engine.start()
    return { engine, origin: new FakeOrigin() }
  }

  const refreshOf = (engine: CacheEngine, url: string) => {
    const { ex, m } = exchangeFor(engine, url)
    return engine.revalidate(m, ex)
  }

  test('a copy past the point is refreshed under the fill lock', async () => {
    const tier = new RacingTier()
    const { engine, origin } = await aheadRig(tier)
    expect((await request(engine, origin, '/items/1')).outcome).toBe('miss')
    await flush()
    clock += 31_000
    const hit = await lookup(engine, '/items/1')
    expect([hit.type, hit.type === 'hit' && hit.refresh !== undefined]).toEqual(['hit', true])
    const fill = await refreshOf(engine, '/items/1')
    expect(fill).toBeDefined()
    expect(tier.locks.size).toBe(1)
    await engine.close()
  })

  test('another process refreshed it between the read and the lock: its copy is taken, no origin call, the lock let go', async () => {
    const tier = new RacingTier()
    const { engine, origin } = await aheadRig(tier)
    await request(engine, origin, '/items/2')
    await flush()
    const [key, old] = [...tier.entries][0] as [string, StoredResponse]
    clock += 31_000
    await lookup(engine, '/items/2')
    tier.beforeLock = () => {
      tier.entries.set(key, {
        ...old,
        body: Buffer.from('theirs'),
        cachedAt: clock,
        staleAt: clock + 60_000,
        deleteAt: clock + 60_000,
      })
    }
    expect(await refreshOf(engine, '/items/2')).toBeUndefined()
    expect(origin.calls).toBe(1)
    expect(tier.locks.size).toBe(0)
    expect(tier.abandoned.map((a) => a.key)).toEqual([key])
    expect(engine.stats().revalidations).toMatchObject({
      started: 1,
      ahead: 1,
      skipped: 1,
      stored: 0,
    })
    const after = await lookup(engine, '/items/2')
    expect([after.type, after.type === 'hit' && after.entry.body.toString()]).toEqual([
      'hit',
      'theirs',
    ])
    await engine.close()
  })
})

describe('refreshAhead while another process holds the fill lock', () => {
  test('the refresh stands aside, and hits start no new one for the retry pause', async () => {
    const tier = new FakeTier()
    const engine = new CacheEngine({
      rules: [{ name: 'item', path: '/items/:id', ttl: 60, refreshAhead: 0.5 }],
      store: { l2: tier },
    })
    await engine.start()
    const origin = new FakeOrigin()
    await request(engine, origin, '/items/3')
    await flush()
    const key = [...tier.entries.keys()][0] as string
    clock += 31_000
    tier.busy.add(key)
    const first = await lookup(engine, '/items/3')
    expect(first.type === 'hit' && first.refresh !== undefined).toBe(true)
    const { ex, m } = exchangeFor(engine, '/items/3')
    expect(await engine.revalidate(m, ex)).toBeUndefined()
    // Within the pause: plain hits, no claim.
    clock += 500
    const again = await lookup(engine, '/items/3')
    expect([again.type, again.type === 'hit' && again.refresh]).toEqual(['hit', undefined])
    // After it, the next hit claims again.
    clock += 600
    const later = await lookup(engine, '/items/3')
    expect(later.type === 'hit' && later.refresh !== undefined).toBe(true)
    expect(engine.stats().revalidations).toMatchObject({ started: 2, skipped: 1 })
    expect(origin.calls).toBe(1)
    await engine.close()
  })
})
