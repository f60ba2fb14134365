import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import Keyv from 'keyv'
import { sharedRedisUrl } from '../../../../test/support/redis/shared'
import { CacheEngine, type Lookup } from '../../src/engine/engine'
import type { Fill } from '../../src/engine/fill'
import { InvalidationOutbox } from '../../src/invalidation/outbox'
import { normalizeTarget } from '../../src/invalidation/target'
import { keyvTier } from '../../src/keyv'
import { redisTier } from '../../src/redis'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin, lookup, request, sleep, thrown } from '../support'

// `invalidate({ mode: 'expire' })`: the entries of the tags are stale from
// then on (still served inside their stale windows), where `'delete'`
// removes them. In memory and on a real Redis shared by two engines: a
// deterministic walk through both modes, then a property test over random
// interleavings of fills (some still running), reads, expires and deletes:
// no read ever serves a copy older than a later delete of one of its tags,
// and no read serves a copy older than a later expire as fresh.

const rules: CacheRule[] = [
  {
    name: 'p',
    path: '/p/:id',
    ttl: 60,
    staleWhileRevalidate: 60,
    tags: ['p:{params.id}', 'all'],
  },
  { name: 'plain', path: '/plain/:id', ttl: 60, tags: ['plain'] },
  {
    name: 'write',
    path: '/p/:id',
    methods: ['PUT'],
    invalidates: { tags: ['p:{params.id}'], mode: 'expire' },
  },
]

const LEASE = 300
const engines: CacheEngine[] = []
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close()
})

async function memory(): Promise<CacheEngine[]> {
  const e = new CacheEngine({ rules, coalesce: { maxWait: '20ms' } })
  engines.push(e)
  return [e]
}

/** Two engines (two processes) on one prefix of the real Redis. */
async function shared(): Promise<CacheEngine[]> {
  const prefix = `expire-${randomBytes(5).toString('hex')}`
  const two = [0, 1].map(
    () =>
      new CacheEngine({
        rules,
        // A read of a key whose fill is still open waits no longer than this.
        coalesce: { maxWait: '20ms' },
        store: { l2: redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms` }) },
      }),
  )
  engines.push(...two)
  await Promise.all(two.map((e) => e.start()))
  await sleep(LEASE) // past the new keyspace's birth wait
  return two
}

/** Two engines without a memory tier on one Keyv store (the Keyv tier has no bus). */
async function keyv(): Promise<CacheEngine[]> {
  const store = new Keyv()
  const prefix = `expire-${randomBytes(5).toString('hex')}`
  const two = [0, 1].map(
    () =>
      new CacheEngine({
        rules,
        coalesce: { maxWait: '20ms' },
        store: { l1: false, l2: keyvTier({ store, prefix }) },
      }),
  )
  engines.push(...two)
  await Promise.all(two.map((e) => e.start()))
  return two
}

describe.each([
  ['memory', memory],
  ['Redis, two processes', shared],
  ['Keyv, two processes', keyv],
])('%s', (_, open) => {
  test('expire: stale (served while revalidating) until refreshed; a later delete: gone', async () => {
    const all = await open()
    const [a, b] = [all[0] as CacheEngine, all[all.length - 1] as CacheEngine]
    const origin = new FakeOrigin()
    expect(await request(a, origin, '/p/1')).toEqual({ outcome: 'miss', body: 'v1' })
    await sleep(20) // the copy reaches Redis
    expect(await request(b, origin, '/p/1')).toEqual({ outcome: 'hit', body: 'v1' })
    const record = await a.invalidate({ tags: ['p:1'], mode: 'expire' })
    expect(record.mode).toBe('expire')
    for (const e of all)
      expect(await request(e, origin, '/p/1')).toEqual({ outcome: 'stale:revalidate', body: 'v1' })
    await b.invalidate({ tags: ['all'] })
    // Gone everywhere: the first read refills it (the other process then shares the new copy).
    expect(await request(a, origin, '/p/1')).toEqual({ outcome: 'miss', body: 'v2' })
    await sleep(20)
    expect((await request(b, origin, '/p/1')).body).toBe('v2')
    expect(origin.calls).toBe(2)
  })

  test('expire on a rule without stale windows is as good as a delete', async () => {
    const all = await open()
    const origin = new FakeOrigin()
    expect((await request(all[0] as CacheEngine, origin, '/plain/1')).outcome).toBe('miss')
    await sleep(20)
    await (all[0] as CacheEngine).invalidate({ tags: ['plain'], mode: 'expire' })
    for (const e of [...all].reverse()) {
      expect((await request(e, origin, '/plain/1')).body).toBe('v2')
      await sleep(20) // the new copy reaches the shared tier
    }
    expect(origin.calls).toBe(2)
  })

  test('a fill that started before an expire is stored as stale', async () => {
    const all = await open()
    const a = all[0] as CacheEngine
    const origin = new FakeOrigin()
    const l = (await lookup(a, '/p/2')) as Lookup & { type: 'miss' }
    expect(l.type).toBe('miss')
    const send = origin.open(l.fill)
    await a.invalidate({ tags: ['p:2'], mode: 'expire' })
    send()
    await sleep(20)
    for (const e of all)
      expect(await request(e, origin, '/p/2')).toEqual({ outcome: 'stale:revalidate', body: 'v1' })
    expect(origin.calls).toBe(1)
  })

  test('a write rule with mode expire marks its tags stale', async () => {
    const all = await open()
    const a = all[0] as CacheEngine
    const origin = new FakeOrigin()
    await request(a, origin, '/p/3')
    const m = a.match('PUT', '/p/3')
    if (m === undefined || m.rule.kind !== 'invalidate') throw new Error('expected the write rule')
    const record = await a.invalidateAfterWrite(
      { rule: m.rule, params: m.params },
      { method: 'PUT', path: '/p/3', rawQuery: '', headers: {}, user: undefined },
    )
    expect([record.mode, record.tags]).toEqual(['expire', ['p:3']])
    expect((await request(a, origin, '/p/3')).outcome).toBe('stale:revalidate')
    expect(origin.calls).toBe(1)
  })
})

test('mode is checked: a bad value, or expire with a pattern', () => {
  expect(thrown(() => normalizeTarget({ tags: ['a'], mode: 'soft' })).message).toBe(
    `invalidate(): "mode": expected 'delete' or 'expire', got "soft"`,
  )
  expect(thrown(() => normalizeTarget({ pattern: '/p/*', mode: 'expire' })).message).toBe(
    `invalidate(): "mode": 'expire' takes tags, user or tenant; a pattern is always deleted`,
  )
  expect(
    thrown(
      () =>
        new CacheEngine({
          rules: [
            { path: '/p', methods: ['PUT'], invalidates: { patterns: ['/p'], mode: 'expire' } },
          ],
        }),
    ).message,
  ).toBe(
    `rules[0] (/p): option "invalidates.mode": 'expire' takes tags and user; a pattern is always deleted`,
  )
})

test('the outbox never merges an expire into a delete, or a delete into an expire', () => {
  const box = new InvalidationOutbox({ tags: [], patterns: ['/{*all}'] })
  box.add({ tags: ['a'], patterns: [] })
  box.add({ tags: ['b'], patterns: [], expire: true })
  box.add({ tags: ['c'], patterns: [], expire: true })
  box.add({ tags: ['d'], patterns: [] })
  const batches: unknown[] = []
  for (let next = box.next(100); next !== undefined; next = box.next(100)) {
    batches.push(next.plan)
    box.done(next.count)
  }
  expect(batches).toEqual([
    { tags: ['a'], patterns: [] },
    { tags: ['b', 'c'], patterns: [], expire: true },
    { tags: ['d'], patterns: [] },
  ])
})

// --- The property ------------------------------------------------------------------

type Op =
  | { kind: 'read'; id: number; on: number }
  /** A fill that stays open until a later `finish`. */
  | { kind: 'start'; id: number; on: number }
  | { kind: 'finish' }
  | { kind: 'expire' | 'delete'; tag: string; on: number }

const IDS = [1, 2, 3]
const TAGS = ['p:1', 'p:2', 'p:3', 'all']
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      id: fc.constantFrom(...IDS),
      on: fc.nat(1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('start' as const),
      id: fc.constantFrom(...IDS),
      on: fc.nat(1),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'finish' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom('expire' as const, 'delete' as const),
      tag: fc.constantFrom(...TAGS),
      on: fc.nat(1),
    }),
  },
)

/** Runs `ops`; throws on the first read that breaks a promise. */
async function run(all: CacheEngine[], ops: readonly Op[]): Promise<void> {
  const origin = new FakeOrigin()
  /** Per body, the step its fill started at and the tags it carries. */
  const born = new Map<string, { step: number; tags: string[] }>()
  /** Per tag, the steps of its deletes and expires. */
  const deleted = new Map<string, number[]>()
  const expired = new Map<string, number[]>()
  const open: Array<() => string> = []
  const engine = (on: number) => all[on % all.length] as CacheEngine
  const tagsOf = (id: number) => [`p:${id}`, 'all']
  const after = (marks: Map<string, number[]>, tags: string[], step: number) =>
    tags.some((t) => (marks.get(t) ?? []).some((s) => s > step))
  for (const [step, o] of ops.entries()) {
    if (o.kind === 'expire' || o.kind === 'delete') {
      const tag = o.tag
      const marks = o.kind === 'expire' ? expired : deleted
      marks.set(tag, [...(marks.get(tag) ?? []), step])
      await engine(o.on).invalidate({ tags: [tag], mode: o.kind })
    } else if (o.kind === 'finish') {
      open.shift()?.()
      await sleep(5)
    } else if (o.kind === 'read' || o.kind === 'start') {
      const l = await lookup(engine(o.on), `/p/${o.id}`)
      if (l.type === 'miss') {
        const body = `v${origin.calls + 1}`
        born.set(body, { step, tags: tagsOf(o.id) })
        const send = origin.open(l.fill as Fill)
        if (o.kind === 'start') open.push(send)
        else {
          send()
          await sleep(5)
        }
      } else if (l.type === 'hit' || l.type === 'stale') {
        const body = l.entry.body.toString()
        const b = born.get(body)
        if (b === undefined) throw new Error(`step ${step}: ${body} was never filled`)
        if (after(deleted, b.tags, b.step))
          throw new Error(`step ${step}: ${l.type} ${body} (filled at ${b.step}) after a delete`)
        if (l.type === 'hit' && after(expired, b.tags, b.step))
          throw new Error(`step ${step}: fresh hit ${body} (filled at ${b.step}) after an expire`)
      }
    }
  }
  for (const send of open.splice(0)) send()
}

test.each([
  ['memory', memory, 40, 100],
  ['Redis with two processes', shared, 25, 8],
  ['Keyv with two processes', keyv, 25, 40],
] as const)(
  'property, %s: no read serves a copy older than a later delete, nor as fresh one older than a later expire',
  async (_, open, maxLength, numRuns) => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength }), async (ops) => {
        const all = await open()
        try {
          await run(all, ops)
        } finally {
          for (const e of engines.splice(0)) await e.close()
        }
      }),
      { numRuns },
    )
  },
  120_000,
)

// --- Found in review ----------------------------------------------------------------

test.each([
  ['during the wait', false],
  ['before the wait', true],
])('a request waiting on a fill that an expire hit (%s) is not a fresh hit', async (_, first) => {
  const a = new CacheEngine({ rules, coalesce: { maxWait: '2s' } })
  engines.push(a)
  const origin = new FakeOrigin()
  const l = (await lookup(a, '/p/1')) as Lookup & { type: 'miss' }
  expect(l.type).toBe('miss')
  const send = origin.open(l.fill)
  if (first) await a.invalidate({ tags: ['p:1'], mode: 'expire' })
  const waiter = lookup(a, '/p/1')
  await sleep(5)
  if (!first) await a.invalidate({ tags: ['p:1'], mode: 'expire' })
  send()
  const w = await waiter
  expect([w.type, (w as { reason?: string }).reason]).toEqual(['stale', 'revalidate'])
  expect(origin.calls).toBe(1)
})

test.each([
  ['Redis', 'redis'],
  ['Keyv', 'keyv'],
] as const)(
  '%s: an expire record that vanishes (eviction) never makes an expired copy fresh',
  async (_, kind) => {
    const prefix = `expire-gone-${randomBytes(5).toString('hex')}`
    const map = new Map<string, unknown>()
    const l2 =
      kind === 'redis'
        ? redisTier({ client: sharedRedisUrl(), prefix, lease: `${LEASE}ms` })
        : keyvTier({ store: new Keyv({ store: map }), prefix })
    const a = new CacheEngine({ rules, store: { l1: false, l2 } })
    engines.push(a)
    await a.start()
    if (kind === 'redis') await sleep(LEASE)
    const origin = new FakeOrigin()
    expect((await request(a, origin, '/p/1')).outcome).toBe('miss')
    await sleep(20)
    await a.invalidate({ tags: ['p:1'], mode: 'expire' })
    expect((await request(a, origin, '/p/1')).outcome).toBe('stale:revalidate')
    // What an evicting Redis (volatile-lru, allkeys-lru) or store may do.
    if (kind === 'redis') {
      const raw = new Redis(sharedRedisUrl())
      await raw.del(`{${prefix}}:x:p:1`)
      raw.disconnect()
    } else for (const k of [...map.keys()]) if (k.includes(':x:')) map.delete(k)
    expect((await request(a, origin, '/p/1')).outcome).not.toBe('hit')
  },
)

test("another tag's expire does not reopen an entry's stale window", async () => {
  const short: CacheRule[] = [
    { name: 'q', path: '/q/:id', ttl: 60, staleWhileRevalidate: '100ms', tags: ['q:{params.id}'] },
  ]
  const a = new CacheEngine({ rules: short })
  engines.push(a)
  const origin = new FakeOrigin()
  expect((await request(a, origin, '/q/1')).outcome).toBe('miss')
  await a.invalidate({ tags: ['q:1'], mode: 'expire' })
  await sleep(200) // past the window, measured from the expire
  await a.invalidate({ tags: ['q:2'], mode: 'expire' })
  expect(await request(a, origin, '/q/1')).toEqual({ outcome: 'miss', body: 'v2' })
})
