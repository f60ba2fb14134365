import fc from 'fast-check'
import { CachetConfigError } from '../../src/errors'
import { DEFAULT_L1_MAX_BYTES, MemoryTier } from '../../src/tiers/memory-tier'
import { makeEntry, thrown } from '../support'

const entry = (key: string, size: number, deleteAt = 1_000_000) =>
  makeEntry({ key, size, deleteAt, staleAt: deleteAt })

describe('MemoryTier options', () => {
  test.each<[unknown, RegExp]>([
    [0, /expected more than 0 bytes, got 0$/],
    [-1, /expected a whole number of bytes \(0 or more\), got -1$/],
    ['abc', /got "abc"$/],
    ['0kb', /expected more than 0 bytes, got "0kb"$/],
    [1.5, /got 1.5$/],
  ])('maxBytes %p', (maxBytes, expected) => {
    const err = thrown(() => new MemoryTier({ maxBytes: maxBytes as number }))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    expect(err.message.startsWith('option "store.l1.maxBytes": ')).toBe(true)
    expect(err.message).toMatch(expected)
  })

  test.each<[number | string | undefined, number]>([
    [undefined, DEFAULT_L1_MAX_BYTES],
    ['1MiB', 1_048_576],
    [5000, 5000],
  ])('maxBytes %p → %p', (maxBytes, bytes) => {
    expect(new MemoryTier(maxBytes === undefined ? {} : { maxBytes }).maxBytes).toBe(bytes)
  })
})

describe('MemoryTier', () => {
  test('stores and returns entries, counting their bytes', () => {
    const tier = new MemoryTier({ maxBytes: 1000 })
    expect(tier.set(entry('a', 300))).toBe(true)
    expect(tier.set(entry('b', 200))).toBe(true)
    expect(tier.get('a', 0)?.key).toBe('a')
    expect(tier.bytes).toBe(500)
    expect(tier.size).toBe(2)
  })

  test('replacing an entry counts only the new one', () => {
    const tier = new MemoryTier({ maxBytes: 1000 })
    tier.set(entry('a', 300))
    tier.set(entry('a', 500))
    expect(tier.bytes).toBe(500)
    expect(tier.size).toBe(1)
  })

  test('evicts the least recently used entry; a get makes an entry hot', () => {
    const tier = new MemoryTier({ maxBytes: 1000 })
    tier.set(entry('a', 300))
    tier.set(entry('b', 300))
    tier.set(entry('c', 300))
    tier.get('a', 0) // b is now the coldest
    tier.set(entry('d', 300))
    expect([...tier.keys()]).toEqual(['c', 'a', 'd'])
    expect(tier.get('b', 0)).toBeUndefined()
    expect(tier.evictions).toBe(1)
    expect(tier.bytes).toBe(900)
  })

  test('evicts as many entries as needed', () => {
    const tier = new MemoryTier({ maxBytes: 1000 })
    for (const k of ['a', 'b', 'c']) tier.set(entry(k, 300))
    tier.set(entry('big', 900))
    expect([...tier.keys()]).toEqual(['big'])
    expect(tier.evictions).toBe(3)
  })

  test('an entry larger than the budget is refused and evicts nothing', () => {
    const tier = new MemoryTier({ maxBytes: 1000 })
    tier.set(entry('a', 300))
    expect(tier.set(entry('huge', 1001))).toBe(false)
    expect([...tier.keys()]).toEqual(['a'])
    expect(tier.get('huge', 0)).toBeUndefined()
    expect(tier.set(entry('exact', 1000))).toBe(true)
    expect([...tier.keys()]).toEqual(['exact'])
  })

  test('an expired entry is dropped when read', () => {
    const tier = new MemoryTier({ maxBytes: 1000 })
    tier.set(entry('a', 300, 100))
    expect(tier.get('a', 99)?.key).toBe('a')
    expect(tier.get('a', 100)).toBeUndefined()
    expect(tier.size).toBe(0)
    expect(tier.bytes).toBe(0)
  })

  test('delete and clear give the bytes back', () => {
    const tier = new MemoryTier({ maxBytes: 1000 })
    tier.set(entry('a', 300))
    tier.set(entry('b', 300))
    expect(tier.delete('a')).toBe(true)
    expect(tier.delete('a')).toBe(false)
    expect(tier.bytes).toBe(300)
    tier.clear()
    expect(tier.bytes).toBe(0)
    expect(tier.size).toBe(0)
  })
})

type Op = { set: string; size: number } | { get: string } | { del: string }

describe('MemoryTier properties', () => {
  const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g')
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ set: key, size: fc.integer({ min: 1, max: 1500 }) }) },
    { weight: 2, arbitrary: fc.record({ get: key }) },
    { weight: 1, arbitrary: fc.record({ del: key }) },
  )

  test('never over budget, bytes always the sum of what it holds, LRU order as a model', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.array(op, { maxLength: 60 }),
        (max, ops) => {
          const tier = new MemoryTier({ maxBytes: max })
          // The model: keys from coldest to hottest, with their sizes.
          let model: [string, number][] = []
          const total = () => model.reduce((n, [, s]) => n + s, 0)
          for (const o of ops) {
            if ('set' in o) {
              const stored = tier.set(entry(o.set, o.size))
              expect(stored).toBe(o.size <= max)
              if (stored) {
                model = model.filter(([k]) => k !== o.set)
                model.push([o.set, o.size])
                while (total() > max) model.shift()
              }
            } else if ('get' in o) {
              const found = tier.get(o.get, 0)
              const i = model.findIndex(([k]) => k === o.get)
              expect(found?.key).toBe(i === -1 ? undefined : o.get)
              if (i !== -1) model.push(...model.splice(i, 1))
            } else {
              tier.delete(o.del)
              model = model.filter(([k]) => k !== o.del)
            }
            expect(tier.bytes).toBeLessThanOrEqual(max)
            expect(tier.bytes).toBe(total())
            expect([...tier.keys()]).toEqual(model.map(([k]) => k))
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('MemoryTier with a per-tenant quota', () => {
  const owned = (key: string, size: number, tenant?: string) =>
    makeEntry({
      key,
      size,
      deleteAt: 1_000_000,
      staleAt: 1_000_000,
      tags: tenant === undefined ? ['#route:r'] : ['#route:r', `#tenant:${tenant}`],
    })

  test('maxBytesPerTenant is checked like maxBytes, and at most the budget', () => {
    const err = thrown(() => new MemoryTier({ maxBytes: 1000, maxBytesPerTenant: 0 }))
    expect(err.message).toBe(
      'option "store.l1.maxBytesPerTenant": expected more than 0 bytes, got 0',
    )
    expect(new MemoryTier({ maxBytes: 1000, maxBytesPerTenant: '1MiB' }).maxBytesPerTenant).toBe(
      1000,
    )
    expect(new MemoryTier({ maxBytes: 1000 }).maxBytesPerTenant).toBeUndefined()
  })

  test("a tenant over its quota evicts its own coldest entries, not another tenant's", () => {
    const tier = new MemoryTier({ maxBytes: 1000, maxBytesPerTenant: 400 })
    tier.set(owned('b1', 200, 'b'))
    tier.set(owned('x', 100))
    for (let i = 1; i <= 5; i++) tier.set(owned(`a${i}`, 150, 'a'))
    // a's five entries (750 bytes) were cut to its 400-byte quota: a4, a5.
    expect([...tier.keys()]).toEqual(['b1', 'x', 'a4', 'a5'])
    expect([tier.tenantBytes('a'), tier.tenantBytes('b'), tier.bytes]).toEqual([300, 200, 600])
    expect(tier.evictions).toBe(3)
    // A hit makes the entry hot within its tenant too: a5 is now a's coldest.
    tier.get('a4', 0)
    tier.set(owned('a6', 150, 'a'))
    expect([...tier.keys()]).toEqual(['b1', 'x', 'a4', 'a6'])
    tier.delete('a4')
    tier.delete('a6')
    expect(tier.tenantBytes('a')).toBe(0)
  })

  test("an entry larger than its tenant's quota is refused and evicts nothing", () => {
    const tier = new MemoryTier({ maxBytes: 1000, maxBytesPerTenant: 400 })
    tier.set(owned('a1', 300, 'a'))
    expect(tier.set(owned('a2', 500, 'a'))).toBe(false)
    expect(tier.set(owned('x', 500))).toBe(true)
    expect([...tier.keys()]).toEqual(['a1', 'x'])
    expect(tier.evictions).toBe(0)
  })

  test('never over budget or quota, bytes the sum of what it holds (property)', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
    const tenant = fc.constantFrom(undefined, 't1', 't2')
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 2000 }),
        fc.integer({ min: 50, max: 1500 }),
        fc.array(
          fc.oneof(
            fc.record({ set: key, size: fc.integer({ min: 1, max: 800 }), tenant }),
            fc.record({ get: key }),
            fc.record({ del: key }),
          ),
          { maxLength: 60 },
        ),
        (max, quota, ops) => {
          const tier = new MemoryTier({ maxBytes: max, maxBytesPerTenant: quota })
          const owner = new Map<string, string | undefined>()
          for (const o of ops) {
            if ('set' in o) {
              const stored = tier.set(owned(o.set, o.size, o.tenant))
              expect(stored).toBe(o.size <= (o.tenant === undefined ? max : Math.min(quota, max)))
              if (stored) owner.set(o.set, o.tenant)
            } else if ('get' in o) tier.get(o.get, 0)
            else tier.delete(o.del)
            const held = [...tier.keys()]
            const sizeOf = (k: string) => tier.peek(k)?.size ?? 0
            expect(tier.bytes).toBe(held.reduce((n, k) => n + sizeOf(k), 0))
            expect(tier.bytes).toBeLessThanOrEqual(max)
            for (const t of ['t1', 't2']) {
              const own = held.filter((k) => owner.get(k) === t)
              const bytes = own.reduce((n, k) => n + sizeOf(k), 0)
              expect(tier.tenantBytes(t)).toBe(bytes)
              expect(bytes).toBeLessThanOrEqual(Math.min(quota, max))
            }
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})
