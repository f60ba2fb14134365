import { CacheEngine } from '../../src/engine/engine'
import { RuleSet } from '../../src/rules/rule-set'
import type { CompiledCacheRule } from '../../src/rules/types'
import { TopUrls } from '../../src/warm/top-urls'
import { thrown } from '../support'

const rules = new RuleSet(
  [
    { name: 'item', path: '/items/:id', ttl: 60 },
    { name: 'list', path: '/items', ttl: 60 },
    { name: 'mine', path: '/mine', ttl: 60, perUser: true },
    { name: 'write', path: '/items/:id', methods: ['PUT'], invalidates: ['x'] },
  ],
  {},
)
const cacheRules = rules.rules.filter((r): r is CompiledCacheRule => r.kind === 'cache')
const [item, list, mine] = cacheRules as [CompiledCacheRule, CompiledCacheRule, CompiledCacheRule]

/** Records `path?query` `n` times under its own key. */
function hit(top: TopUrls, rule: CompiledCacheRule, url: string, n = 1): void {
  const [path, query = ''] = url.split('?') as [string, string?]
  for (let i = 0; i < n; i++) top.record(rule, `k:${url}`, path, query, true)
}

describe('TopUrls', () => {
  test('counts per key and lists the most requested first, across rules', () => {
    const top = new TopUrls(cacheRules, rules.rules.length, 10)
    hit(top, item, '/items/1', 5)
    hit(top, item, '/items/2?lang=fr', 3)
    hit(top, list, '/items?page=2', 4)
    hit(top, item, '/items/3')
    expect(top.top(3)).toEqual([
      { url: '/items/1', rule: 'item', count: 5 },
      { url: '/items?page=2', rule: 'list', count: 4 },
      { url: '/items/2?lang=fr', rule: 'item', count: 3 },
    ])
    expect(top.top(100)).toHaveLength(4)
    expect(top.top(0)).toEqual([])
  })

  test('per-user rules are not tracked', () => {
    const top = new TopUrls(cacheRules, rules.rules.length, 10)
    hit(top, mine, '/mine', 50)
    hit(top, item, '/items/1')
    expect(top.top(10).map((t) => t.url)).toEqual(['/items/1'])
  })

  test('the URL kept is the first one seen for a key (query as requested)', () => {
    const top = new TopUrls(cacheRules, rules.rules.length, 10)
    top.record(item, 'same-key', '/items/1', 'utm=a', true)
    top.record(item, 'same-key', '/items/1', 'utm=b', true)
    expect(top.top(5)).toEqual([{ url: '/items/1?utm=a', rule: 'item', count: 2 }])
  })

  test('bounded: at most twice `track` keys per rule; heavy hitters survive a stream of one-offs', () => {
    // 5000 requests, 4000 of them one-offs: any URL with more than 5000 / 20 is kept.
    const track = 20
    const top = new TopUrls(cacheRules, rules.rules.length, track)
    for (let round = 0; round < 200; round++) {
      hit(top, item, '/items/hot-a', 3)
      hit(top, item, '/items/hot-b', 2)
      for (let i = 0; i < 20; i++) hit(top, item, `/items/once-${round}-${i}`)
    }
    const all = top.top(1000)
    expect(all.length).toBeLessThanOrEqual(2 * track)
    expect(all.slice(0, 2).map((t) => t.url)).toEqual(['/items/hot-a', '/items/hot-b'])
    // Counts are upper bounds: never below the true count of a URL kept from the start.
    expect(all[0]?.count).toBeGreaterThanOrEqual(600)
    expect(all[1]?.count).toBeGreaterThanOrEqual(400)
    // A one-off that entered late starts at the floor: overestimated, but below the heavy hitters.
    expect(all[2]?.count ?? 0).toBeLessThan(400)
  })

  test('a key enters only when admitted (a memory miss); a hit only counts a tracked key', () => {
    const top = new TopUrls(cacheRules, rules.rules.length, 10)
    top.record(item, 'k1', '/items/1', '', false)
    expect(top.top(5)).toEqual([])
    top.record(item, 'k1', '/items/1', '', true)
    top.record(item, 'k1', '/items/1', '', false)
    expect(top.top(5)).toEqual([{ url: '/items/1', rule: 'item', count: 2 }])
  })

  test('seed merges a count read back: the higher one stays', () => {
    const top = new TopUrls(cacheRules, rules.rules.length, 10)
    hit(top, item, '/items/1', 2)
    top.seed(item, 'k:/items/1', '/items/1', 7)
    top.seed(item, 'k:/items/9', '/items/9', 4)
    top.seed(item, 'k:/items/1', '/items/1', 3)
    expect(top.top(5)).toEqual([
      { url: '/items/1', rule: 'item', count: 7 },
      { url: '/items/9', rule: 'item', count: 4 },
    ])
  })

  test('sharedMax is `track` per tracked rule', () => {
    expect(new TopUrls(cacheRules, rules.rules.length, 10).sharedMax).toBe(20)
  })
})

describe('engine.topUrls (warm.track)', () => {
  const engineRules = [
    { name: 'item', path: '/items/:id', ttl: 60 },
    { name: 'mine', path: '/mine', ttl: 60, perUser: true },
  ]

  test('off by default: empty', () => {
    const engine = new CacheEngine({ rules: engineRules })
    const m = engine.match('GET', '/items/1')
    if (m === undefined || m.rule.kind !== 'cache') throw new Error('no match')
    engine.lookup(m as never, {
      method: 'GET',
      path: '/items/1',
      rawQuery: '',
      headers: {},
      user: undefined,
    })
    expect(engine.topUrls(10)).toEqual([])
  })

  test('counts lookups of non-per-user rules, misses and memory hits alike', () => {
    const engine = new CacheEngine({ rules: engineRules, warm: { track: 5 } })
    const look = (path: string, rawQuery = '', user?: string) => {
      const m = engine.match('GET', path)
      if (m === undefined) throw new Error('no match')
      return engine.lookup(m as never, { method: 'GET', path, rawQuery, headers: {}, user })
    }
    for (let i = 0; i < 3; i++) look('/items/1', 'lang=fr')
    look('/items/2')
    look('/mine', '', 'u1')
    expect(engine.topUrls(10)).toEqual([
      { url: '/items/1?lang=fr', rule: 'item', count: 3 },
      { url: '/items/2', rule: 'item', count: 1 },
    ])
  })

  test.each([
    [{ track: -1 }, 'warm.track'],
    [{ track: 1.5 }, 'warm.track'],
    [{ track: 10_001 }, 'warm.track'],
    [{ track: 10, save: '10ms' }, 'warm.save'],
    [{ track: 10, ttl: 'soon' }, 'warm.ttl'],
    [{ track: 10, other: 1 }, 'warm.other'],
  ])('warm option %o is refused, naming %s', (warm, option) => {
    const err = thrown(() => new CacheEngine({ rules: engineRules, warm }))
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    expect(err.message).toContain(`"${option}"`)
  })
})
