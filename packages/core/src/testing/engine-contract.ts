import { CacheEngine, type Lookup } from '../engine/engine'
import { splitUrl } from '../engine/exchange'
import type { CacheOptions } from '../options/cache-options'
import { parseDuration } from '../options/units'
import type { CacheRule } from '../rules/types'
import { runnerGlobals } from './jest-globals'
import { ALL_BYTES, sleep } from './tier-contract'

// Read when called, inside the caller's test file, where the runner defines them.
const describe = (name: string, body: () => void) => runnerGlobals().describe(name, body)
const test = (name: string, body: () => unknown, timeout?: number) =>
  runnerGlobals().test(name, body, timeout)
const expect = (actual: unknown) => runnerGlobals().expect(actual)
const beforeEach = (body: () => unknown) => runnerGlobals().beforeEach(body)
const afterEach = (body: () => unknown) => runnerGlobals().afterEach(body)

export interface EngineFixture {
  /** The engine's options but `rules` (the suite brings its own). */
  options: Omit<CacheOptions, 'rules'>
  /**
   * Options of a second engine on the same shared store, as another process
   * would open it. Without it, the cross-process case checks nothing.
   */
  peer?(): Promise<Omit<CacheOptions, 'rules'>>
  /** Runs after every engine of the test was closed (an engine closes its shared tier). */
  cleanup?(): Promise<void>
}

const RULES: CacheRule[] = [
  { name: 'item', path: '/items/:id', ttl: 60, tags: ['item:{params.id}'] },
  { name: 'orders', path: '/me/orders', ttl: 60, perUser: true },
]

/** The origin of the engine cases: counts its calls; call n answers `v<n>:` and bytes 0x00–0xFF. */
class Origin {
  calls = 0

  respond(): Buffer {
    this.calls++
    return Buffer.concat([Buffer.from(`v${this.calls}:`), ALL_BYTES])
  }
}

interface Served {
  outcome: string
  body: Buffer
}

/** One GET through the engine, driving a miss's `Fill` the way an adapter does. */
async function request(
  engine: CacheEngine,
  origin: Origin,
  url: string,
  opts: { user?: string; headers?: Record<string, string> } = {},
): Promise<Served> {
  const { path, rawQuery } = splitUrl(url)
  const m = engine.match('GET', path)
  if (m === undefined || m.rule.kind !== 'cache') throw new Error(`no cache rule for ${url}`)
  const ex = { method: 'GET', path, rawQuery, headers: {}, user: opts.user }
  return serve(await engine.lookup({ rule: m.rule, params: m.params }, ex), origin, opts.headers)
}

function serve(l: Lookup, origin: Origin, headers: Record<string, string> = {}): Served {
  if (l.type === 'hit') return { outcome: 'hit', body: l.entry.body }
  if (l.type === 'stale') return { outcome: `stale:${l.reason}`, body: l.entry.body }
  if (l.type === 'unavailable' || l.type === 'timeout')
    return { outcome: l.type, body: Buffer.alloc(0) }
  const body = origin.respond()
  if (l.type === 'bypass') return { outcome: `bypass:${l.reason}`, body }
  l.fill.onHeaders(200, { 'content-type': 'application/octet-stream', ...headers })
  l.fill.onChunk(body.subarray(0, 100))
  l.fill.onChunk(body.subarray(100))
  l.fill.onEnd()
  return { outcome: 'miss', body }
}

function expectServed(actual: Served, outcome: string, body?: Buffer): void {
  expect(actual.outcome).toBe(outcome)
  if (body !== undefined) expect(Buffer.compare(actual.body, body)).toBe(0)
}

/**
 * The engine over a store, `Fill`s driven by hand: fills, hits, invalidation
 * by tag, path and user, fills that race an invalidation, and (with `peer`) a
 * second process. Runs for memory-only engines too.
 */
export function engineContract(name: string, makeOptions: () => Promise<EngineFixture>): void {
  describe(`${name} engine contract`, () => {
    let fx: EngineFixture
    let engines: CacheEngine[]
    let origin: Origin

    async function open(options: Omit<CacheOptions, 'rules'>): Promise<CacheEngine> {
      const engine = new CacheEngine({ ...options, rules: RULES })
      engines.push(engine)
      await engine.start()
      return engine
    }

    beforeEach(async () => {
      fx = await makeOptions()
      engines = []
      origin = new Origin()
    })
    afterEach(async () => {
      for (const e of engines) await e.close()
      await fx.cleanup?.()
    })

    test('a miss fills; the next lookups are hits of the same bytes; the origin ran once', async () => {
      const engine = await open(fx.options)
      const first = await request(engine, origin, '/items/1')
      expectServed(first, 'miss')
      expectServed(await request(engine, origin, '/items/1'), 'hit', first.body)
      expectServed(await request(engine, origin, '/items/1'), 'hit', first.body)
      expect(origin.calls).toBe(1)
    })

    test('invalidating a tag: a miss, then hits of the new response; other entries stay', async () => {
      const engine = await open(fx.options)
      await request(engine, origin, '/items/1')
      const two = await request(engine, origin, '/items/2')
      expectServed(await request(engine, origin, '/items/1'), 'hit')
      await engine.invalidate({ tags: ['item:1'] })
      const again = await request(engine, origin, '/items/1')
      expectServed(again, 'miss')
      expectServed(await request(engine, origin, '/items/1'), 'hit', again.body)
      expectServed(await request(engine, origin, '/items/2'), 'hit', two.body)
      expect(origin.calls).toBe(3)
    })

    test('a fill whose origin call spans an invalidation is not stored', async () => {
      const engine = await open(fx.options)
      const l = await lookupOnly(engine, '/items/1')
      expect(l.type).toBe('miss')
      await engine.invalidate({ tags: ['item:1'] })
      serve(l, origin)
      await sleep(50) // the shared tier's answer to the write
      const next = await request(engine, origin, '/items/1')
      expectServed(next, 'miss')
      expectServed(await request(engine, origin, '/items/1'), 'hit', next.body)
      expect(origin.calls).toBe(2)
    })

    test('invalidating a literal path drops that path only', async () => {
      const engine = await open(fx.options)
      await request(engine, origin, '/items/1')
      const two = await request(engine, origin, '/items/2')
      await request(engine, origin, '/items/2')
      await engine.invalidate({ pattern: '/items/1' })
      expectServed(await request(engine, origin, '/items/1'), 'miss')
      expectServed(await request(engine, origin, '/items/2'), 'hit', two.body)
      expect(origin.calls).toBe(3)
    })

    test('invalidating a user drops that user’s entries only', async () => {
      const engine = await open(fx.options)
      await request(engine, origin, '/me/orders', { user: 'alice' })
      const bob = await request(engine, origin, '/me/orders', { user: 'bob' })
      await request(engine, origin, '/me/orders', { user: 'bob' })
      await engine.invalidate({ user: 'alice' })
      expectServed(await request(engine, origin, '/me/orders', { user: 'alice' }), 'miss')
      expectServed(await request(engine, origin, '/me/orders', { user: 'bob' }), 'hit', bob.body)
      expect(origin.calls).toBe(3)
    })

    test('a response with Set-Cookie is not stored', async () => {
      const engine = await open(fx.options)
      await request(engine, origin, '/items/1', { headers: { 'set-cookie': 'sid=1' } })
      await sleep(20)
      expectServed(await request(engine, origin, '/items/1'), 'miss')
      expect(origin.calls).toBe(2)
    })

    test('a second engine on the same store shares fills and invalidations (needs peer())', async () => {
      if (fx.peer === undefined) return
      const peerOptions = await fx.peer()
      const a = await open(fx.options)
      const b = await open(peerOptions)
      const first = await request(a, origin, '/items/1')
      await request(a, origin, '/items/1') // waits for the shared tier's write
      expectServed(await request(b, origin, '/items/1'), 'hit', first.body)
      expect(origin.calls).toBe(1)
      await a.invalidate({ tags: ['item:1'] })
      // Without a bus, the peer's memory copy lives at most store.l1.maxTtl.
      const coherent = peerOptions.store?.l2?.coherent ?? true
      if (!coherent && b.l1 !== undefined) await sleep(l1MaxTtl(peerOptions) + 20)
      const next = await request(b, origin, '/items/1')
      expectServed(next, 'miss')
      await request(b, origin, '/items/1')
      expectServed(await request(a, origin, '/items/1'), 'hit', next.body)
      expect(origin.calls).toBe(2)
    })
  })
}

function lookupOnly(engine: CacheEngine, url: string): Promise<Lookup> {
  const m = engine.match('GET', url)
  if (m === undefined || m.rule.kind !== 'cache') throw new Error(`no cache rule for ${url}`)
  const ex = { method: 'GET', path: url, rawQuery: '', headers: {}, user: undefined }
  return Promise.resolve(engine.lookup({ rule: m.rule, params: m.params }, ex))
}

function l1MaxTtl(options: Omit<CacheOptions, 'rules'>): number {
  const l1 = options.store?.l1
  const ms = l1 === false || l1?.maxTtl === undefined ? 0 : parseDuration(l1.maxTtl)
  return typeof ms === 'number' ? ms : 0
}
