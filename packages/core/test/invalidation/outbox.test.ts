import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError } from '../../src/errors'
import { InvalidationOutbox, OUTBOX_MAX_ENTRIES } from '../../src/invalidation/outbox'
import type { CacheOptions } from '../../src/options/cache-options'
import type { CacheRule } from '../../src/rules/types'
import { FakeTier } from '../fake-tier'
import { FakeOrigin, request, sleep, thrown } from '../support'

// `onInvalidationFailure: 'defer'`: a write whose invalidation the shared tier
// cannot record answers as the route did; the invalidation is applied in this
// process at once and kept in a bounded outbox, replayed before this process
// reads the shared tier again.

const PURGE = { tags: [], patterns: ['/{*all}'] }

describe('the outbox', () => {
  test('keeps plans oldest first, once each', () => {
    const box = new InvalidationOutbox(PURGE, 10)
    box.add({ tags: ['a'], patterns: [] })
    box.add({ tags: ['b'], patterns: ['/p/*rest'] })
    box.add({ tags: ['a'], patterns: [] })
    expect(box.size).toBe(2)
    expect(box.deferred).toBe(3)
    expect(box.next(100)).toEqual({ plan: { tags: ['a', 'b'], patterns: ['/p/*rest'] }, count: 2 })
    // At most `maxNames` tags and patterns per batch, but always one plan.
    expect(box.next(1)).toEqual({ plan: { tags: ['a'], patterns: [] }, count: 1 })
    box.done(1)
    expect(box.size).toBe(1)
    expect(box.replayed).toBe(1)
    expect(box.next(100)).toEqual({ plan: { tags: ['b'], patterns: ['/p/*rest'] }, count: 1 })
    box.done(1)
    expect(box.size).toBe(0)
    expect(box.next(100)).toBeUndefined()
  })

  test('is bounded: past its bound it holds one purge-everything, which subsumes what comes next', () => {
    expect(OUTBOX_MAX_ENTRIES).toBe(10_000)
    const box = new InvalidationOutbox(PURGE, 3)
    for (let i = 0; i < 3; i++) box.add({ tags: [`t${i}`], patterns: [] })
    expect([box.size, box.overflows]).toEqual([3, 0])
    box.add({ tags: ['t3'], patterns: [] })
    expect([box.size, box.overflows]).toEqual([1, 1])
    expect(box.next(100)).toEqual({ plan: PURGE, count: 1 })
    box.add({ tags: ['t4'], patterns: [] })
    expect(box.size).toBe(1)
    expect(box.deferred).toBe(5)
    box.done(1)
    expect(box.size).toBe(0)
    // Empty again: plans are kept one by one.
    box.add({ tags: ['t5'], patterns: [] })
    expect(box.next(100)).toEqual({ plan: { tags: ['t5'], patterns: [] }, count: 1 })
  })

  test('the default bound holds 10 000 distinct plans, then collapses', () => {
    const box = new InvalidationOutbox(PURGE)
    for (let i = 0; i < OUTBOX_MAX_ENTRIES; i++) box.add({ tags: [`t${i}`], patterns: [] })
    expect(box.size).toBe(OUTBOX_MAX_ENTRIES)
    box.add({ tags: ['one-more'], patterns: [] })
    expect([box.size, box.overflows]).toEqual([1, 1])
  })
})

const cacheRules: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: 60, tags: ['item:{params.id}'] },
]

async function rig(extra: { rules?: CacheRule[] } & Partial<Omit<CacheOptions, 'rules'>> = {}) {
  const tier = new FakeTier()
  const { rules = [], ...options } = extra
  const engine = new CacheEngine({
    rules: [...cacheRules, ...rules],
    ...options,
    store: { l2: tier },
  })
  await engine.start()
  return { engine, tier, origin: new FakeOrigin() }
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(10)
  }
}

const deferRule: CacheRule = {
  name: 'item-write',
  path: '/items/:id',
  methods: ['PUT'],
  invalidates: ['item:{params.id}'],
  onInvalidationFailure: 'defer',
}

describe("a write rule's invalidation the shared tier cannot record", () => {
  test("default ('reject'): the write's invalidation and invalidate() reject", async () => {
    const { engine, tier, origin } = await rig({
      rules: [{ path: '/items/:id', methods: ['PUT'], invalidates: ['item:{params.id}'] }],
    })
    tier.behaviour.invalidate = 'fail'
    await expect(request(engine, origin, '/items/1', { method: 'PUT' })).rejects.toThrow(
      'fake invalidate failed',
    )
    await expect(engine.invalidate({ tags: ['item:1'] })).rejects.toThrow('fake invalidate failed')
    expect(engine.stats().l2?.outbox).toMatchObject({ pending: 0, deferred: 0 })
    await engine.close()
  })

  test("'defer': resolves, applied here at once; no shared-tier read until the outbox is replayed", async () => {
    const { engine, tier, origin } = await rig({ rules: [deferRule] })
    expect((await request(engine, origin, '/items/1')).outcome).toBe('miss')
    expect((await request(engine, origin, '/items/1')).outcome).toBe('hit')
    expect(origin.calls).toBe(1)
    tier.behaviour.invalidate = 'fail'
    const records: unknown[] = []
    engine.on('invalidate', (r) => records.push(r))
    const { ex, m } = writeMatch(engine, '/items/1')
    const record = await engine.invalidateAfterWrite(m, ex)
    expect(record).toMatchObject({ ok: false, deferred: true, tags: ['item:1'] })
    expect(records).toEqual([record])
    expect(engine.stats().l2?.outbox).toMatchObject({ pending: 1, deferred: 1 })
    expect(engine.stats().invalidations).toMatchObject({ done: 0, failed: 0, deferred: 1 })

    // This process never serves the old entry: its memory copy is gone, and the
    // shared tier (which may still hold it) is not read while the outbox is pending.
    const reads = tier.calls.read
    expect((await request(engine, origin, '/items/1')).outcome).toBe('miss')
    expect((await request(engine, origin, '/items/2')).outcome).toBe('miss')
    expect(origin.calls).toBe(3)
    expect(tier.calls.read).toBe(reads)

    // A second deferred write while the outbox is pending answers at once.
    const started = Date.now()
    const again = await engine.invalidateAfterWrite(writeMatch(engine, '/items/2').m, ex)
    expect(again).toMatchObject({ deferred: true })
    expect(Date.now() - started).toBeLessThan(50)

    // The tier answers again: the outbox is replayed (retried with backoff), then reads resume.
    tier.behaviour.invalidate = 'ok'
    await until(() => engine.stats().l2?.outbox.pending === 0)
    expect(tier.invalidations.map((p) => p.tags)).toContainEqual(expect.arrayContaining(['item:1']))
    expect(tier.invalidations.flatMap((p) => p.tags)).toEqual(
      expect.arrayContaining(['item:1', 'item:2']),
    )
    expect(engine.stats().l2?.outbox).toMatchObject({ pending: 0, replayed: 2 })
    await request(engine, origin, '/items/3')
    expect(tier.calls.read).toBeGreaterThan(reads)
    await engine.close()
  })

  test("global 'defer': invalidate() resolves with { deferred: true }; a rule's 'reject' overrides it", async () => {
    const { engine, tier, origin } = await rig({
      onInvalidationFailure: 'defer',
      rules: [
        {
          path: '/items/:id',
          methods: ['DELETE'],
          invalidates: ['item:{params.id}'],
          onInvalidationFailure: 'reject',
        },
      ],
    })
    tier.behaviour.invalidate = 'fail'
    await expect(engine.invalidate({ tags: ['x'] })).resolves.toMatchObject({
      ok: false,
      deferred: true,
      tags: ['x'],
    })
    await expect(engine.purge()).resolves.toMatchObject({ deferred: true })
    await expect(request(engine, origin, '/items/1', { method: 'DELETE' })).rejects.toThrow(
      'fake invalidate failed',
    )
    await engine.close()
  })

  test('a record that succeeded says deferred: false', async () => {
    const { engine } = await rig({ onInvalidationFailure: 'defer' })
    await expect(engine.invalidate({ tags: ['x'] })).resolves.toMatchObject({
      ok: true,
      deferred: false,
    })
    await engine.close()
  })
})

function writeMatch(engine: CacheEngine, path: string) {
  const m = engine.match('PUT', path)
  if (m === undefined || m.rule.kind !== 'invalidate') throw new Error(`no write rule for ${path}`)
  return {
    m: { rule: m.rule, params: m.params },
    ex: { method: 'PUT', path, rawQuery: '', headers: {}, user: undefined },
  }
}

describe('onInvalidationFailure is checked', () => {
  test('a bad global value names the option and the choices', () => {
    const err = thrown(() => new CacheEngine({ rules: cacheRules, onInvalidationFailure: 'later' }))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.message).toBe(
      `option "onInvalidationFailure": expected 'reject' or 'defer', got "later"`,
    )
  })

  test('a bad rule value names the rule', () => {
    const err = thrown(
      () => new CacheEngine({ rules: [...cacheRules, { ...deferRule, onInvalidationFailure: 1 }] }),
    )
    expect(err.message).toBe(
      `rules[1] (/items/:id): option "onInvalidationFailure": expected 'reject' or 'defer', got 1`,
    )
  })

  test('a cache rule has none', () => {
    const err = thrown(
      () =>
        new CacheEngine({
          rules: [{ path: '/a', ttl: 60, onInvalidationFailure: 'defer' }],
        }),
    )
    expect(err.message).toMatch(/option "onInvalidationFailure": not an option of a cache rule/)
  })
})
