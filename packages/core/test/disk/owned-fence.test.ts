import { KeyvTier, type OwnedKeyvStore } from '../../src/keyv/keyv-tier'
import type { KeyvStore } from '../../src/keyv/options'
import { deferred } from '../fake-tier'

// The disk tier alone is a Keyv tier on a store only this process writes:
// there, a fill's first read of a tag (creating its version record) and an
// invalidation of that tag take turns, so the created version never lands
// over the invalidation's. A Map stands in for the directory, with its first
// read held back by the test.

class HeldStore implements KeyvStore {
  readonly data = new Map<string, string | number>()
  /** While set, the next multi-key get waits for it (once). */
  hold: Promise<void> | undefined
  get(key: string): Promise<unknown>
  get(keys: string[]): Promise<unknown[]>
  async get(key: string | string[]): Promise<unknown> {
    if (!Array.isArray(key)) return this.data.get(key)
    const values = key.map((k) => this.data.get(k))
    const hold = this.hold
    this.hold = undefined
    if (hold !== undefined) await hold
    return values
  }
  async set(key: string, value: string | number): Promise<boolean> {
    this.data.set(key, value)
    return true
  }
  async delete(key: string): Promise<boolean> {
    return this.data.delete(key)
  }
}

const owned = (coherent: boolean): OwnedKeyvStore => ({
  name: 'disk',
  coherent,
  unusable: () => false,
  open: async () => {},
  close: async () => {},
  stats: () => ({ store: 'file', below: false, entries: 0, bytes: 0, maxBytes: 0 }),
})

test.each([
  [true, 'the fence takes the invalidation’s version'],
  [false, 'a shared Keyv store keeps its documented race'],
])('coherent %s: %s', async (coherent) => {
  const store = new HeldStore()
  const tier = new KeyvTier({ store, prefix: 'p' }, owned(coherent))
  const gate = deferred()
  store.hold = gate.promise
  // The fill's read sees no record for `t`; held before it creates one.
  const reading = tier.read('k', ['t'], { lock: true })
  await tier.invalidate({ tags: ['t'], patterns: [] })
  const invalidated = store.data.get('p:t:t')
  expect(invalidated).toBeDefined()
  gate.resolve()
  const read = await reading
  expect(read.kind).toBe('miss')
  const fence = (read as unknown as { fence: { versions: string[] } }).fence
  if (coherent) {
    expect(fence.versions[0]).toBe(invalidated)
    expect(store.data.get('p:t:t')).toBe(invalidated)
  } else {
    // The created version overwrote the invalidation's (see keyv-tier.ts).
    expect(fence.versions[0]).not.toBe(invalidated)
  }
})
