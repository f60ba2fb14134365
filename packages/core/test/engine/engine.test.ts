import type { IncomingHttpHeaders } from 'node:http'
import { CacheEngine, type Lookup } from '../../src/engine/engine'
import { replay } from '../../src/engine/replay'
import { CachetConfigError } from '../../src/errors'
import type { InvalidationTarget } from '../../src/invalidation/target'
import type { CacheOptions } from '../../src/options/cache-options'
import type { CacheRule } from '../../src/rules/types'
import {
  FakeOrigin,
  finish,
  lookup,
  type OriginResponse,
  type Outcome,
  request,
  sleep,
} from '../support'

const shop: CacheRule[] = [
  { name: 'product', path: '/products/:id', ttl: 60, tags: ['product:{params.id}'] },
  { name: 'list', path: '/products', ttl: 60, tags: ['products'] },
  { name: 'user', path: '/users/:id', ttl: 60 },
  { name: 'orders', path: '/me/orders', ttl: 60, perUser: true },
  { name: 'greeting', path: '/greeting', ttl: 60, key: { headers: ['accept-language'] } },
  { name: 'small', path: '/small', ttl: 60, maxBodySize: 10 },
  { name: 'maybe', path: '/maybe/:id', ttl: 60, statuses: [200, 404] },
  { name: 'short', path: '/short', ttl: '40ms' },
  {
    name: 'product-write',
    path: '/products/:id',
    invalidates: ['product:{params.id}', 'products'],
  },
  { name: 'cart-write', path: '/me/cart', invalidates: { user: true } },
]

type Step =
  | {
      get: string
      method?: 'GET' | 'HEAD'
      headers?: IncomingHttpHeaders
      user?: string
      respond?: OriginResponse
      /** `hit`, `miss`, `bypass:<reason>` or `no-rule`. */
      expect: string
      /** The body served (a hit replays the body of the origin call that filled it). */
      body?: string
    }
  | { write: string; method?: string; user?: string; status?: number }
  | { invalidate: InvalidationTarget }
  | { sleep: number }

interface Scenario {
  name: string
  steps: Step[]
  /** How many times the origin ran, writes included. */
  originCalls: number
}

const scenarios: Scenario[] = [
  {
    name: 'a miss fills, the next request is a hit',
    steps: [
      { get: '/products/1', expect: 'miss', body: 'v1' },
      { get: '/products/1', expect: 'hit', body: 'v1' },
      { get: '/products/1', expect: 'hit', body: 'v1' },
    ],
    originCalls: 1,
  },
  {
    name: 'HEAD is answered from the GET entry',
    steps: [
      { get: '/products/1', expect: 'miss' },
      { get: '/products/1', method: 'HEAD', expect: 'hit', body: 'v1' },
    ],
    originCalls: 1,
  },
  {
    name: 'a HEAD miss fills the entry GET uses',
    steps: [
      { get: '/products/1', method: 'HEAD', expect: 'miss' },
      { get: '/products/1', expect: 'hit', body: 'v1' },
    ],
    originCalls: 1,
  },
  {
    name: 'the query is in the key, order-insensitive',
    steps: [
      { get: '/products?a=1&b=2', expect: 'miss' },
      { get: '/products?b=2&a=1', expect: 'hit', body: 'v1' },
      { get: '/products?a=2', expect: 'miss' },
      { get: '/products', expect: 'miss' },
    ],
    originCalls: 3,
  },
  {
    name: 'different paths of one rule are different entries',
    steps: [
      { get: '/products/1', expect: 'miss', body: 'v1' },
      { get: '/products/2', expect: 'miss', body: 'v2' },
      { get: '/products/1', expect: 'hit', body: 'v1' },
      { get: '/products/2', expect: 'hit', body: 'v2' },
    ],
    originCalls: 2,
  },
  {
    name: 'tag invalidation drops only the entries carrying the tag',
    steps: [
      { get: '/products/1', expect: 'miss' },
      { get: '/products/2', expect: 'miss' },
      { invalidate: { tags: ['product:1'] } },
      { get: '/products/1', expect: 'miss', body: 'v3' },
      { get: '/products/1', expect: 'hit', body: 'v3' },
      { get: '/products/2', expect: 'hit', body: 'v2' },
    ],
    originCalls: 3,
  },
  {
    name: "pattern invalidation of a rule's own pattern",
    steps: [
      { get: '/products/1', expect: 'miss' },
      { get: '/products/2', expect: 'miss' },
      { get: '/users/1', expect: 'miss' },
      { invalidate: { pattern: '/products/:id' } },
      { get: '/products/1', expect: 'miss' },
      { get: '/products/2', expect: 'miss' },
      { get: '/users/1', expect: 'hit' },
    ],
    originCalls: 5,
  },
  {
    name: 'pattern invalidation of a literal path (not a rule pattern)',
    steps: [
      { get: '/products/1', expect: 'miss' },
      { get: '/products/2', expect: 'miss' },
      { invalidate: { pattern: '/products/1' } },
      { get: '/products/1', expect: 'miss' },
      { get: '/products/2', expect: 'hit' },
    ],
    originCalls: 3,
  },
  {
    name: 'pattern invalidation with a bare wildcard',
    steps: [
      { get: '/products/1', expect: 'miss' },
      { get: '/products', expect: 'miss' },
      { get: '/users/1', expect: 'miss' },
      { invalidate: { pattern: '/products/*' } },
      { get: '/products/1', expect: 'miss' },
      { get: '/products', expect: 'hit' },
      { get: '/users/1', expect: 'hit' },
    ],
    originCalls: 4,
  },
  {
    name: 'per-user entries are separate; user invalidation drops one user',
    steps: [
      { get: '/me/orders', user: 'alice', expect: 'miss', body: 'v1' },
      { get: '/me/orders', user: 'bob', expect: 'miss', body: 'v2' },
      { get: '/me/orders', user: 'alice', expect: 'hit', body: 'v1' },
      { invalidate: { user: 'alice' } },
      { get: '/me/orders', user: 'alice', expect: 'miss', body: 'v3' },
      { get: '/me/orders', user: 'bob', expect: 'hit', body: 'v2' },
    ],
    originCalls: 3,
  },
  {
    name: 'a per-user rule without a user bypasses',
    steps: [
      { get: '/me/orders', expect: 'bypass:no-user' },
      { get: '/me/orders', expect: 'bypass:no-user' },
    ],
    originCalls: 2,
  },
  {
    name: 'credentials bypass the shared cache both ways',
    steps: [
      { get: '/products/1', headers: { cookie: 'sid=1' }, expect: 'bypass:credentials' },
      { get: '/products/1', expect: 'miss' },
      { get: '/products/1', headers: { authorization: 'Bearer x' }, expect: 'bypass:credentials' },
      { get: '/products/1', expect: 'hit', body: 'v2' },
    ],
    originCalls: 3,
  },
  {
    name: 'a successful write invalidates its tags',
    steps: [
      { get: '/products/1', expect: 'miss' },
      { get: '/products/2', expect: 'miss' },
      { get: '/products', expect: 'miss' },
      { write: '/products/1', method: 'PUT' },
      { get: '/products/1', expect: 'miss' },
      { get: '/products', expect: 'miss' },
      { get: '/products/2', expect: 'hit' },
    ],
    originCalls: 6,
  },
  {
    name: 'a failed write invalidates nothing',
    steps: [
      { get: '/products/1', expect: 'miss' },
      { write: '/products/1', method: 'PUT', status: 500 },
      { get: '/products/1', expect: 'hit', body: 'v1' },
    ],
    originCalls: 2,
  },
  {
    name: "a write invalidates the writer's per-user entries",
    steps: [
      { get: '/me/orders', user: 'alice', expect: 'miss' },
      { get: '/me/orders', user: 'bob', expect: 'miss' },
      { write: '/me/cart', method: 'POST', user: 'alice' },
      { get: '/me/orders', user: 'alice', expect: 'miss' },
      { get: '/me/orders', user: 'bob', expect: 'hit' },
    ],
    originCalls: 4,
  },
  {
    name: 'client no-cache is still served from the cache',
    steps: [
      { get: '/products/1', expect: 'miss' },
      { get: '/products/1', headers: { 'cache-control': 'no-cache' }, expect: 'hit' },
    ],
    originCalls: 1,
  },
  {
    name: 'client no-store bypasses and stores nothing',
    steps: [
      {
        get: '/products/1',
        headers: { 'cache-control': 'no-store' },
        expect: 'bypass:request-no-store',
      },
      { get: '/products/1', expect: 'miss' },
    ],
    originCalls: 2,
  },
  {
    name: 'a GET with a body bypasses',
    steps: [
      { get: '/products/1', headers: { 'content-length': '3' }, expect: 'bypass:request-body' },
      { get: '/products/1', expect: 'miss' },
    ],
    originCalls: 2,
  },
  {
    name: 'a Set-Cookie response is not stored; the next one can be',
    steps: [
      { get: '/products/1', respond: { headers: { 'set-cookie': 'a=1' } }, expect: 'miss' },
      { get: '/products/1', expect: 'miss', body: 'v2' },
      { get: '/products/1', expect: 'hit', body: 'v2' },
    ],
    originCalls: 2,
  },
  {
    name: 'a 500 is never stored and never replaces a good entry',
    steps: [
      { get: '/products/1', respond: { status: 500 }, expect: 'miss' },
      { get: '/products/1', expect: 'miss', body: 'v2' },
      { get: '/products/1', expect: 'hit', body: 'v2' },
    ],
    originCalls: 2,
  },
  {
    name: 'no-store and private responses are not stored',
    steps: [
      { get: '/products/1', respond: { headers: { 'cache-control': 'no-store' } }, expect: 'miss' },
      { get: '/products/1', respond: { headers: { 'cache-control': 'private' } }, expect: 'miss' },
      { get: '/products/1', expect: 'miss' },
    ],
    originCalls: 3,
  },
  {
    name: 'a private response is stored for a per-user rule',
    steps: [
      {
        get: '/me/orders',
        user: 'alice',
        respond: { headers: { 'cache-control': 'private' } },
        expect: 'miss',
      },
      { get: '/me/orders', user: 'alice', expect: 'hit' },
    ],
    originCalls: 1,
  },
  {
    name: 'Vary on a keyed header: one entry per value',
    steps: [
      {
        get: '/greeting',
        headers: { 'accept-language': 'fr' },
        respond: { headers: { vary: 'Accept-Language' } },
        expect: 'miss',
        body: 'v1',
      },
      {
        get: '/greeting',
        headers: { 'accept-language': 'en' },
        respond: { headers: { vary: 'Accept-Language' } },
        expect: 'miss',
        body: 'v2',
      },
      { get: '/greeting', headers: { 'accept-language': 'fr' }, expect: 'hit', body: 'v1' },
      { get: '/greeting', headers: { 'accept-language': 'en' }, expect: 'hit', body: 'v2' },
    ],
    originCalls: 2,
  },
  {
    name: 'Vary on a header not in the key is not stored',
    steps: [
      { get: '/products/1', respond: { headers: { vary: 'Accept-Encoding' } }, expect: 'miss' },
      { get: '/products/1', expect: 'miss' },
    ],
    originCalls: 2,
  },
  {
    name: 'a listed status (404) is stored',
    steps: [
      { get: '/maybe/1', respond: { status: 404, body: 'gone' }, expect: 'miss' },
      { get: '/maybe/1', expect: 'hit', body: 'gone' },
    ],
    originCalls: 1,
  },
  {
    name: 'over the size cap mid-stream: not stored, then hit-for-pass',
    steps: [
      { get: '/small', respond: { body: ['123456', '789012'] }, expect: 'miss' },
      { get: '/small', expect: 'bypass:too-large' },
      { get: '/small', expect: 'bypass:too-large' },
    ],
    originCalls: 3,
  },
  {
    name: 'over the size cap by Content-Length: hit-for-pass',
    steps: [
      {
        get: '/small',
        respond: { headers: { 'content-length': '12' }, body: '123456789012' },
        expect: 'miss',
      },
      { get: '/small', expect: 'bypass:too-large' },
    ],
    originCalls: 2,
  },
  {
    name: 'a body exactly at the cap is stored',
    steps: [
      { get: '/small', respond: { body: ['12345', '67890'] }, expect: 'miss' },
      { get: '/small', expect: 'hit', body: '1234567890' },
    ],
    originCalls: 1,
  },
  {
    name: 'an entry expires after its ttl',
    steps: [
      { get: '/short', expect: 'miss' },
      { get: '/short', expect: 'hit' },
      { sleep: 60 },
      { get: '/short', expect: 'miss', body: 'v2' },
    ],
    originCalls: 2,
  },
  {
    name: 'a path no rule matches goes to the origin',
    steps: [
      { get: '/nothing', expect: 'no-rule' },
      { get: '/nothing', expect: 'no-rule' },
    ],
    originCalls: 2,
  },
]

describe('engine scenarios', () => {
  test.each(scenarios)('$name', async ({ steps, originCalls }) => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    for (const [i, step] of steps.entries()) {
      if ('sleep' in step) await sleep(step.sleep)
      else if ('invalidate' in step) await engine.invalidate(step.invalidate)
      else if ('write' in step) {
        const r = await request(engine, origin, step.write, {
          method: step.method ?? 'PUT',
          ...(step.user !== undefined ? { user: step.user } : {}),
          ...(step.status !== undefined ? { respond: { status: step.status } } : {}),
        })
        expect(r.outcome).toBe('write')
      } else {
        const r = await request(engine, origin, step.get, {
          method: step.method ?? 'GET',
          ...(step.headers !== undefined ? { headers: step.headers } : {}),
          ...(step.user !== undefined ? { user: step.user } : {}),
          ...(step.respond !== undefined ? { respond: step.respond } : {}),
        })
        expect({ step: i, outcome: r.outcome }).toEqual({ step: i, outcome: step.expect })
        if (step.body !== undefined)
          expect({ step: i, body: r.body }).toEqual({ step: i, body: step.body })
      }
    }
    expect(origin.calls).toBe(originCalls)
    await engine.close()
  })
})

async function settleAll(
  pending: (Lookup | Promise<Lookup>)[],
  origin: FakeOrigin,
): Promise<Outcome[]> {
  const out: Outcome[] = []
  for (const p of pending) out.push(finish(await p, origin))
  return out
}

describe('coalescing', () => {
  test('concurrent misses wait for the first fill and become hits', async () => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    expect(first.fill.leader).toBe(true)
    const end = origin.open(first.fill)
    const waiters = Array.from({ length: 9 }, () => lookup(engine, '/products/1'))
    for (const w of waiters) expect(w).toBeInstanceOf(Promise)
    end()
    const results = await settleAll(waiters, origin)
    expect(results).toEqual(Array.from({ length: 9 }, () => ({ outcome: 'hit', body: 'v1' })))
    expect(origin.calls).toBe(1)
  })

  test('a miss on another key does not wait behind an open fill', () => {
    const engine = new CacheEngine({ rules: shop })
    const first = lookup(engine, '/products/1')
    const other = lookup(engine, '/products/2')
    expect(first).not.toBeInstanceOf(Promise)
    expect(other).not.toBeInstanceOf(Promise)
    if (other instanceof Promise || other.type !== 'miss') throw new Error('expected a miss')
    expect(other.fill.leader).toBe(true)
  })

  test.each<[string, OriginResponse]>([
    ['status 500', { status: 500 }],
    ['Set-Cookie', { headers: { 'set-cookie': 'sid=1' } }],
    ['Cache-Control: private', { headers: { 'cache-control': 'private' } }],
  ])('when the leader is vetoed (%s), each waiter is a miss of its own', async (_, res) => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill, res)
    const waiters = Array.from({ length: 4 }, () => lookup(engine, '/products/1'))
    end()
    const settled = await Promise.all(waiters)
    expect(settled.map((l) => l.type)).toEqual(['miss', 'miss', 'miss', 'miss'])
    for (const l of settled) if (l.type === 'miss') expect(l.fill.leader).toBe(false)
    for (const l of settled) finish(l, origin)
    expect(origin.calls).toBe(5)
  })

  test('when the leader aborts, waiters are misses and the next request leads again', async () => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    origin.calls++
    const waiter = lookup(engine, '/products/1')
    first.fill.onHeaders(200, {})
    first.fill.onChunk(Buffer.from('partial'))
    first.fill.onAbort()
    expect((await waiter).type).toBe('miss')
    const next = lookup(engine, '/products/1')
    if (next instanceof Promise || next.type !== 'miss') throw new Error('expected a miss')
    expect(next.fill.leader).toBe(true)
  })

  test('beyond coalesce.maxWaiters, extra lookups are misses at once', async () => {
    const engine = new CacheEngine({ rules: shop, coalesce: { maxWaiters: 2 } })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill)
    const all = Array.from({ length: 4 }, () => lookup(engine, '/products/1'))
    expect(all.map((l) => l instanceof Promise)).toEqual([true, true, false, false])
    for (const l of all.slice(2)) {
      if (l instanceof Promise || l.type !== 'miss') throw new Error('expected a miss')
      expect(l.fill.leader).toBe(false)
    }
    end()
    const waited = await Promise.all(all.slice(0, 2))
    expect(waited.map((l) => l.type)).toEqual(['hit', 'hit'])
    expect(origin.calls).toBe(1)
  })

  test('a waiter that gave up frees its place for the next one', async () => {
    const engine = new CacheEngine({ rules: shop, coalesce: { maxWaiters: 1, maxWait: '10ms' } })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill)
    const gaveUp = lookup(engine, '/products/1')
    expect(gaveUp).toBeInstanceOf(Promise)
    expect((await gaveUp).type).toBe('miss')
    const next = lookup(engine, '/products/1')
    expect(next).toBeInstanceOf(Promise)
    end()
    expect((await next).type).toBe('hit')
  })

  test('coalesce.maxWaiters 0 turns coalescing off', () => {
    const engine = new CacheEngine({ rules: shop, coalesce: { maxWaiters: 0 } })
    lookup(engine, '/products/1')
    expect(lookup(engine, '/products/1')).not.toBeInstanceOf(Promise)
  })

  test('a waiter goes to the origin itself when maxWait elapses', async () => {
    const engine = new CacheEngine({ rules: shop, coalesce: { maxWait: '20ms' } })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill)
    const started = Date.now()
    const waited = await lookup(engine, '/products/1')
    expect(Date.now() - started).toBeGreaterThanOrEqual(15)
    expect(waited.type).toBe('miss')
    if (waited.type === 'miss') expect(waited.fill.leader).toBe(false)
    end()
    const after = await lookup(engine, '/products/1')
    expect(after.type).toBe('hit')
    expect(origin.calls).toBe(1)
  })

  test('a long maxWait is honoured (no timer overflow) or refused at start-up', async () => {
    let engine: CacheEngine
    try {
      engine = new CacheEngine({ rules: shop, coalesce: { maxWait: '30d' } })
    } catch (err) {
      expect(err).toBeInstanceOf(CachetConfigError)
      return
    }
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill)
    const waiter = lookup(engine, '/products/1')
    await sleep(20)
    end()
    expect((await waiter).type).toBe('hit')
    await engine.close()
  })

  test('close releases the waiters', async () => {
    const engine = new CacheEngine({ rules: shop })
    lookup(engine, '/products/1')
    const waiter = lookup(engine, '/products/1')
    await engine.close()
    expect((await waiter).type).toBe('miss')
  })
})

describe('fenced fills: a fill cannot undo an invalidation', () => {
  test.each<[string, string, InvalidationTarget, { user?: string }]>([
    ['a tag of the entry', '/products/1', { tags: ['product:1'] }, {}],
    ["the rule's own pattern", '/products/1', { pattern: '/products/:id' }, {}],
    ['a pattern matching the path', '/products/1', { pattern: '/products/*rest' }, {}],
    ['the user of a per-user entry', '/me/orders', { user: 'alice' }, { user: 'alice' }],
  ])('invalidating %s while the fill runs', async (_, url, target, opts) => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    const first = lookup(engine, url, opts)
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill)
    const waiter = lookup(engine, url, opts)
    await engine.invalidate(target)
    end()
    expect((await waiter).type).toBe('miss')
    expect((await lookup(engine, url, opts)).type).toBe('miss')
    expect(origin.calls).toBe(1)
  })

  test('an unrelated invalidation while the fill runs does not stop it being stored', async () => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/products/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill)
    await engine.invalidate({ tags: ['product:2'] })
    await engine.invalidate({ pattern: '/users/*rest' })
    end()
    expect((await lookup(engine, '/products/1')).type).toBe('hit')
  })

  test('a fill longer than the longest ttl still sees a pattern logged while it ran', async () => {
    const engine = new CacheEngine({ rules: [{ name: 'p', path: '/p/:id', ttl: '50ms' }] })
    const origin = new FakeOrigin()
    const first = lookup(engine, '/p/1')
    if (first instanceof Promise || first.type !== 'miss') throw new Error('expected a miss')
    const end = origin.open(first.fill)
    await engine.invalidate({ pattern: '/p/*rest' }) // not the rule's pattern: logged
    await sleep(70)
    await engine.invalidate({ tags: ['unrelated'] }) // prunes the log
    end()
    expect((await lookup(engine, '/p/1')).type).toBe('miss')
  })
})

describe('invalidation reaches every entry it names', () => {
  test('an entry invalidated long ago stays invalid after many other tag invalidations', async () => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    expect((await request(engine, origin, '/products/1')).outcome).toBe('miss')
    await engine.invalidate({ tags: ['product:1'] })
    // Enough other tags to push product:1 out of the bounded version map.
    await engine.invalidate({ tags: Array.from({ length: 100_000 }, (_, i) => `other:${i}`) })
    expect((await request(engine, origin, '/products/1')).outcome).toBe('miss')
  })

  test("a rule's own pattern also reaches entries another rule holds for matching paths", async () => {
    // HEAD /products/1 is not matched by the GET-only rule: the later rule caches it.
    const engine = new CacheEngine({
      rules: [
        { name: 'product', path: '/products/:id', ttl: 60, methods: ['GET'] },
        { name: 'catalogue', path: '/products/*rest', ttl: 60 },
      ],
    })
    const origin = new FakeOrigin()
    const head = { method: 'HEAD' } as const
    expect((await request(engine, origin, '/products/1', head)).outcome).toBe('miss')
    expect((await request(engine, origin, '/products/1', head)).outcome).toBe('hit')
    await engine.invalidate({ pattern: '/products/:id' })
    expect((await request(engine, origin, '/products/1', head)).outcome).toBe('miss')
  })

  test('qualified no-cache: the named fields are never replayed (RFC 9111 §5.2.2.4)', async () => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    const res = { headers: { 'cache-control': 'no-cache="x-secret"', 'x-secret': 's3cret' } }
    await request(engine, origin, '/products/1', { respond: res })
    const l = await lookup(engine, '/products/1')
    const served = l.type === 'hit' ? replay(l.entry, Date.now(), undefined, false).headers : []
    expect(served).not.toContain('x-secret')
  })

  test.each(['no-cache="Set-Cookie", max-age=60', 'private="set-cookie"'])(
    '%s: stored, and the cookie is never replayed (RFC 9111 §5.2.2.4, §5.2.2.7)',
    async (cc) => {
      const engine = new CacheEngine({ rules: shop })
      const origin = new FakeOrigin()
      const res = { headers: { 'cache-control': cc, 'set-cookie': 'sid=one-client' } }
      expect((await request(engine, origin, '/products/1', { respond: res })).outcome).toBe('miss')
      const l = await lookup(engine, '/products/1')
      expect(l.type).toBe('hit')
      const served = l.type === 'hit' ? replay(l.entry, Date.now(), undefined, false).headers : []
      expect(served).not.toContain('set-cookie')
      expect(served.join(' ')).not.toContain('sid=one-client')
      expect(origin.calls).toBe(1)
    },
  )
})

describe('writeTarget', () => {
  test('renders the write rule templates; empty tags are dropped', () => {
    const engine = new CacheEngine({
      rules: [
        {
          name: 'w',
          path: '/p/:id',
          invalidates: {
            tags: ['p:{params.id}', '{query.x}', 'u:{user}'],
            patterns: ['/p'],
            user: true,
          },
        },
      ],
    })
    const m = engine.match('PUT', '/p/7')
    if (m === undefined || m.rule.kind !== 'invalidate') throw new Error('expected a write rule')
    const ex = { method: 'PUT', path: '/p/7', rawQuery: '', headers: {}, user: 'al' }
    expect(engine.writeTarget({ rule: m.rule, params: m.params }, ex)).toEqual({
      tags: ['p:7', 'u:al'],
      patterns: ['/p'],
      users: ['al'],
      tenants: [],
    })
  })
})

describe('engine API', () => {
  test('invalidate() rejects a bad target', async () => {
    const engine = new CacheEngine({ rules: shop })
    await expect(engine.invalidate({} as InvalidationTarget)).rejects.toMatchObject({
      code: 'CACHET_INVALID_INVALIDATION',
    })
  })

  test('clear() drops every entry', async () => {
    const engine = new CacheEngine({ rules: shop })
    const origin = new FakeOrigin()
    await request(engine, origin, '/products/1')
    engine.clear()
    expect(engine.l1?.size).toBe(0)
    expect((await request(engine, origin, '/products/1')).outcome).toBe('miss')
    expect(origin.calls).toBe(2)
  })

  test('the options may be a bare rules array', () => {
    const engine = new CacheEngine(shop as CacheOptions['rules'])
    expect(engine.rules.rules).toHaveLength(shop.length)
  })
})
