import { LocalInvalidationState } from '../../src/invalidation/local-state'
import { PatternLog } from '../../src/invalidation/pattern-log'
import { TagVersions } from '../../src/invalidation/tag-versions'
import type { NormalizedTarget } from '../../src/invalidation/target'
import { RuleSet } from '../../src/rules/rule-set'
import { makeEntry } from '../support'

describe('TagVersions', () => {
  test('a tag never invalidated has version 0', () => {
    const v = new TagVersions()
    expect(v.capture(['a', 'b'])).toEqual([0, 0])
    expect(v.allCurrent(['a', 'b'], [0, 0])).toBe(true)
  })

  test('bump gives each tag a new, increasing version', () => {
    const v = new TagVersions()
    v.bump(['a'])
    v.bump(['b', 'a'])
    const [a, b] = v.capture(['a', 'b'])
    expect(a).toBeGreaterThan(0)
    expect(b).toBeGreaterThan(0)
    expect(a).toBeGreaterThan(b as number)
  })

  test('allCurrent: false as soon as one tag moved', () => {
    const v = new TagVersions()
    const before = v.capture(['a', 'b'])
    v.bump(['b'])
    expect(v.allCurrent(['a', 'b'], before)).toBe(false)
    expect(v.allCurrent(['a'], [before[0] as number])).toBe(true)
    expect(v.allCurrent(['a', 'b'], v.capture(['a', 'b']))).toBe(true)
  })

  test('bumping twice never returns to a captured version', () => {
    const v = new TagVersions()
    v.bump(['a'])
    const seen = v.capture(['a'])
    v.bump(['a'])
    expect(v.allCurrent(['a'], seen)).toBe(false)
  })

  test('the map is bounded: the tags invalidated longest ago are forgotten', () => {
    const v = new TagVersions(2)
    v.bump(['a'])
    v.bump(['b'])
    v.bump(['a']) // a is now the most recent
    v.bump(['c']) // b goes
    expect(v.size).toBe(2)
    expect(v.current('b')).toBe(0)
    expect(v.current('a')).toBeGreaterThan(0)
  })

  test('forgetting fails closed for entries filled after the invalidation', () => {
    const v = new TagVersions(2)
    v.bump(['t'])
    const filledAfter = v.capture(['t'])
    v.bump(['u'])
    v.bump(['w']) // t is forgotten
    expect(v.allCurrent(['t'], filledAfter)).toBe(false)
  })

  test('forgetting fails closed for entries filled before the invalidation', () => {
    const v = new TagVersions(2)
    const filledBefore = v.capture(['t']) // [0]
    v.bump(['t'])
    expect(v.allCurrent(['t'], filledBefore)).toBe(false)
    v.bump(['u'])
    v.bump(['w']) // t is forgotten: its version reads 0 again
    // The entry predates the invalidation of t: it must stay invalid.
    expect(v.allCurrent(['t'], filledBefore)).toBe(false)
  })
})

describe('PatternLog', () => {
  test('an empty log invalidates nothing', () => {
    const log = new PatternLog()
    expect(log.latestSeq).toBe(0)
    expect(log.invalidatedSince(0, '/products/1')).toBe(false)
  })

  test.each<[string, number, string, boolean | undefined]>([
    // pattern, checked up to, path, expected
    ['/products/*rest', 0, '/products/1', true],
    ['/products/*rest', 0, '/users/1', false],
    ['/products/*rest', 1, '/products/1', false], // already checked against it
    ['/products/:id', 0, '/PRODUCTS/1/', true], // matched like a rule: case, trailing slash
    ['/products/:id', 0, '/products/1/reviews', false],
  ])('%s: invalidatedSince(%p, %s) → %p', (pattern, seq, path, expected) => {
    const log = new PatternLog()
    log.append(pattern, 1000)
    expect(log.latestSeq).toBe(1)
    expect(log.invalidatedSince(seq, path)).toBe(expected)
  })

  test('only patterns after the checked sequence count', () => {
    const log = new PatternLog()
    log.append('/a/*rest', 1) // seq 1
    log.append('/b/*rest', 2) // seq 2
    expect(log.invalidatedSince(1, '/a/x')).toBe(false)
    expect(log.invalidatedSince(1, '/b/x')).toBe(true)
    expect(log.invalidatedSince(0, '/a/x')).toBe(true)
  })

  test('beyond the floor (the log overflowed) the answer is unverifiable', () => {
    const log = new PatternLog(2)
    log.append('/a', 1) // seq 1, dropped below
    log.append('/b', 2)
    log.append('/c', 3)
    expect(log.invalidatedSince(0, '/z')).toBeUndefined()
    expect(log.invalidatedSince(1, '/z')).toBe(false)
    expect(log.invalidatedSince(1, '/c')).toBe(true)
  })

  test('prune drops patterns older than the longest lifetime', () => {
    const log = new PatternLog()
    log.append('/old/*rest', 1000) // seq 1
    log.append('/new/*rest', 5000) // seq 2
    log.prune(6000, 2000)
    // Entries checked up to seq 1 are still checked against the newer pattern.
    expect(log.invalidatedSince(1, '/new/x')).toBe(true)
    expect(log.invalidatedSince(1, '/old/x')).toBe(false)
    expect(log.invalidatedSince(0, '/old/x')).not.toBe(true)
  })

  test('a sequence older than a pruned pattern is unverifiable (fail closed)', () => {
    // A fill that started before the pruned pattern (and ran longer than the
    // longest lifetime) asks with its old sequence: it cannot be told "false".
    const log = new PatternLog()
    log.append('/old/*rest', 1000) // seq 1
    log.prune(6000, 2000)
    expect(log.invalidatedSince(0, '/old/x')).toBeUndefined()
  })

  test('prune keeps patterns within the age', () => {
    const log = new PatternLog()
    log.append('/a/*rest', 5000)
    log.prune(6000, 2000)
    expect(log.invalidatedSince(0, '/a/x')).toBe(true)
  })
})

describe('LocalInvalidationState', () => {
  const rules = new RuleSet([
    { name: 'product', path: '/products/:id', ttl: 60 },
    { name: 'me', path: '/me', ttl: 60, perUser: true },
  ])
  const ROUTE = '#route:product'
  /** An invalidation as the engine applies it: planned (users and route patterns become tags), then applied. */
  const invalidate = (state: LocalInvalidationState, t: Partial<NormalizedTarget>, now: number) =>
    state.apply(state.plan({ tags: [], patterns: [], users: [], tenants: [], ...t }), now)

  interface FenceCase {
    name: string
    tags: string[]
    path: string
    invalidation: Partial<NormalizedTarget> | undefined
    holds: boolean
  }

  const fences: FenceCase[] = [
    {
      name: 'nothing happened',
      tags: ['p:1', ROUTE],
      path: '/products/1',
      invalidation: undefined,
      holds: true,
    },
    {
      name: 'a tag of the fill',
      tags: ['p:1', ROUTE],
      path: '/products/1',
      invalidation: { tags: ['p:1'] },
      holds: false,
    },
    {
      name: 'another tag',
      tags: ['p:1', ROUTE],
      path: '/products/1',
      invalidation: { tags: ['p:2'] },
      holds: true,
    },
    {
      name: "the rule's own pattern",
      tags: ['p:1', ROUTE],
      path: '/products/1',
      invalidation: { patterns: ['/products/:id'] },
      holds: false,
    },
    {
      name: 'a logged pattern matching the path',
      tags: [ROUTE],
      path: '/products/1',
      invalidation: { patterns: ['/products/*rest'] },
      holds: false,
    },
    {
      name: 'a logged pattern not matching the path',
      tags: [ROUTE],
      path: '/products/1',
      invalidation: { patterns: ['/users/*rest'] },
      holds: true,
    },
    {
      name: 'the user of the fill',
      tags: ['#user:alice'],
      path: '/me',
      invalidation: { users: ['alice'] },
      holds: false,
    },
    {
      name: 'another user',
      tags: ['#user:alice'],
      path: '/me',
      invalidation: { users: ['bob'] },
      holds: true,
    },
  ]

  test.each(fences)('fenceHolds after $name → $holds', ({ tags, path, invalidation, holds }) => {
    const state = new LocalInvalidationState(rules, 60_000)
    const fence = state.fence(tags)
    if (invalidation !== undefined) invalidate(state, invalidation, 1000)
    const result = state.fenceHolds(fence, path)
    if (holds) expect(result).toEqual(expect.any(Number))
    else expect(result).toBe(false)
  })

  test("a rule's own pattern is a tag bump, not a log entry", () => {
    const state = new LocalInvalidationState(rules, 60_000)
    const fence = state.fence([ROUTE])
    invalidate(state, { patterns: ['/products/:id'] }, 1000)
    expect(state.fenceHolds(fence, '/products/1')).toBe(false)
    expect(state.fenceHolds(state.fence([]), '/products/1')).toBe(0) // nothing logged
  })

  test('fenceHolds returns the pattern sequence the entry is checked up to', () => {
    const state = new LocalInvalidationState(rules, 60_000)
    invalidate(state, { patterns: ['/a/*rest'] }, 1000)
    invalidate(state, { patterns: ['/b/*rest'] }, 1000)
    expect(state.fenceHolds(state.fence([]), '/c')).toBe(2)
  })

  test('a fill that outlives the longest lifetime still sees a pattern logged while it ran', () => {
    const state = new LocalInvalidationState(rules, 60_000)
    const fence = state.fence([ROUTE])
    invalidate(state, { patterns: ['/products/*rest'] }, 1000)
    // Another invalidation after the longest lifetime prunes the pattern.
    invalidate(state, { tags: ['unrelated'] }, 1000 + 60_001)
    expect(state.fenceHolds(fence, '/products/1')).toBe(false)
  })

  describe('isValid', () => {
    const entryFor = (state: LocalInvalidationState, tags: string[], path = '/products/1') => {
      const fence = state.fence(tags)
      return makeEntry({
        tags,
        tagVersions: fence.versions,
        path,
        patternSeq: fence.patternSeq,
        validatedEpoch: 0,
      })
    }

    test('valid while nothing of it was invalidated; the check is cached by epoch', () => {
      const state = new LocalInvalidationState(rules, 60_000)
      const e = entryFor(state, ['p:1'])
      expect(state.isValid(e)).toBe(true)
      expect(e.validatedEpoch).toBe(state.epoch)
      invalidate(state, { tags: ['p:2'] }, 1000)
      expect(state.isValid(e)).toBe(true)
      expect(e.validatedEpoch).toBe(state.epoch)
    })

    test('the epoch fast path: an entry validated at the current epoch is not re-checked', () => {
      const state = new LocalInvalidationState(rules, 60_000)
      // Versions that are not current: only the fast path can call this valid.
      const e = makeEntry({ tags: ['p:1'], tagVersions: [99], validatedEpoch: state.epoch })
      expect(state.isValid(e)).toBe(true)
      invalidate(state, { tags: ['x'] }, 1000) // the epoch moves
      expect(state.isValid(e)).toBe(false)
    })

    test.each<[string, Partial<NormalizedTarget>, string, boolean]>([
      ['tag', { tags: ['p:1'] }, '/products/1', false],
      ['other tag', { tags: ['p:2'] }, '/products/1', true],
      ['logged pattern', { patterns: ['/products/*rest'] }, '/products/1', false],
      ['logged pattern, other path', { patterns: ['/products/*rest'] }, '/users/1', true],
      ['route pattern', { patterns: ['/products/:id'] }, '/products/1', false],
    ])('after a %s invalidation', (_, t, path, valid) => {
      const state = new LocalInvalidationState(rules, 60_000)
      const e = entryFor(state, ['p:1', ROUTE], path)
      expect(state.isValid(e)).toBe(true)
      invalidate(state, t, 1000)
      expect(state.isValid(e)).toBe(valid)
    })

    test('a valid entry records the pattern sequence it was checked up to', () => {
      const state = new LocalInvalidationState(rules, 60_000)
      const e = entryFor(state, [ROUTE], '/products/1')
      invalidate(state, { patterns: ['/users/*rest'] }, 1000)
      expect(state.isValid(e)).toBe(true)
      expect(e.patternSeq).toBe(1)
    })

    test('the epoch moves on every invalidation', () => {
      const state = new LocalInvalidationState(rules, 60_000)
      const before = state.epoch
      invalidate(state, { tags: ['a'] }, 1)
      invalidate(state, { users: ['u'] }, 2)
      expect(state.epoch).toBe(before + 2)
    })
  })
})
