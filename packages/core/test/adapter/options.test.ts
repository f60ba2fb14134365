import { splitAdapterOptions, userIdOf } from '../../src/adapter'
import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError } from '../../src/errors'
import { resolveOptions } from '../../src/options/cache-options'
import { thrown } from '../support'

const rules = [{ path: '/a', ttl: 60 }]

const bad: [string, unknown, string, RegExp][] = [
  // name, options, option named, problem
  ['options not an object', 'rules', 'options', /expected an object, got "rules"/],
  ['options null', null, 'options', /expected an object, got null/],
  ['no rules', {}, 'rules', /expected an array of rules, got undefined/],
  [
    'unknown top-level option',
    { rules, foo: 1 },
    'foo',
    /^unknown option "[\w.]+" \(expected one of .*\brules\b.*\bcoalesce\b/,
  ],
  ['store not an object', { rules, store: 1 }, 'store', /expected an object, got 1/],
  [
    'store.foo',
    { rules, store: { foo: 1 } },
    'store.foo',
    /^unknown option "[\w.]+" \(expected one of .*\bl1\b/,
  ],
  [
    'store.l1 an array',
    { rules, store: { l1: [] } },
    'store.l1',
    /expected an object, got an array of 0/,
  ],
  [
    'store.l1.foo',
    { rules, store: { l1: { foo: 1 } } },
    'store.l1.foo',
    /^unknown option "[\w.]+" \(expected one of .*\bmaxBytes\b/,
  ],
  [
    'store.l1.maxBytes 0',
    { rules, store: { l1: { maxBytes: 0 } } },
    'store.l1.maxBytes',
    /expected more than 0 bytes, got 0/,
  ],
  [
    'store.l1.maxBytes -1',
    { rules, store: { l1: { maxBytes: -1 } } },
    'store.l1.maxBytes',
    /got -1/,
  ],
  [
    "store.l1.maxBytes 'abc'",
    { rules, store: { l1: { maxBytes: 'abc' } } },
    'store.l1.maxBytes',
    /got "abc"/,
  ],
  [
    'defaults.foo',
    { rules, defaults: { foo: 1 } },
    'defaults.foo',
    /^unknown option "[\w.]+" \(expected one of ttl, maxTtl, .*maxBodySize, key, allowCredentials, passHeaders, ignoreCookies/,
  ],
  ['defaults not an object', { rules, defaults: 60 }, 'defaults', /expected an object, got 60/],
  [
    'namespace with a space',
    { rules, namespace: 'my app' },
    'namespace',
    /expected 1 to 64 letters, digits, "_", "-" or "\.", got "my app"/,
  ],
  ['namespace with a colon', { rules, namespace: 'a:b' }, 'namespace', /got "a:b"/],
  ['empty namespace', { rules, namespace: '' }, 'namespace', /got ""/],
  [
    'namespace of 65 characters',
    { rules, namespace: 'x'.repeat(65) },
    'namespace',
    /expected 1 to 64/,
  ],
  ['namespace not a string', { rules, namespace: 7 }, 'namespace', /got 7/],
  ['coalesce not an object', { rules, coalesce: true }, 'coalesce', /expected an object, got true/],
  [
    'coalesce.foo',
    { rules, coalesce: { foo: 1 } },
    'coalesce.foo',
    /^unknown option "[\w.]+" \(expected one of maxWaiters, maxWait\)/,
  ],
  [
    'coalesce.maxWaiters -1',
    { rules, coalesce: { maxWaiters: -1 } },
    'coalesce.maxWaiters',
    /expected a whole number of 0 or more, got -1/,
  ],
  [
    'coalesce.maxWaiters 1.5',
    { rules, coalesce: { maxWaiters: 1.5 } },
    'coalesce.maxWaiters',
    /got 1.5/,
  ],
  [
    "coalesce.maxWaiters '10'",
    { rules, coalesce: { maxWaiters: '10' } },
    'coalesce.maxWaiters',
    /got "10"/,
  ],
  [
    "coalesce.maxWait 'abc'",
    { rules, coalesce: { maxWait: 'abc' } },
    'coalesce.maxWait',
    /duration string like '60s'.*got "abc"/,
  ],
  [
    'coalesce.maxWait -1',
    { rules, coalesce: { maxWait: -1 } },
    'coalesce.maxWait',
    /of 0 seconds or more, got -1/,
  ],
  ['breaker not an object', { rules, breaker: 5 }, 'breaker', /expected an object, got 5/],
  ['breaker an array', { rules, breaker: [] }, 'breaker', /expected an object, got an array of 0/],
  [
    'breaker.foo',
    { rules, breaker: { foo: 1 } },
    'breaker.foo',
    /^unknown option "[\w.]+" \(expected one of failures, cooldown, maxCooldown\)/,
  ],
  [
    'breaker.timeout (a likely typo)',
    { rules, breaker: { timeout: '1s' } },
    'breaker.timeout',
    /unknown option/,
  ],
  [
    'breaker.failures 0',
    { rules, breaker: { failures: 0 } },
    'breaker.failures',
    /expected a whole number of 1 or more, got 0/,
  ],
  ['breaker.failures -1', { rules, breaker: { failures: -1 } }, 'breaker.failures', /got -1/],
  ['breaker.failures 2.5', { rules, breaker: { failures: 2.5 } }, 'breaker.failures', /got 2.5/],
  ["breaker.failures '5'", { rules, breaker: { failures: '5' } }, 'breaker.failures', /got "5"/],
  [
    'breaker.failures NaN',
    { rules, breaker: { failures: Number.NaN } },
    'breaker.failures',
    /got NaN/,
  ],
  [
    "breaker.cooldown 'soon'",
    { rules, breaker: { cooldown: 'soon' } },
    'breaker.cooldown',
    /duration string like '60s'.*got "soon"/,
  ],
  [
    'breaker.cooldown -1',
    { rules, breaker: { cooldown: -1 } },
    'breaker.cooldown',
    /of 0 seconds or more, got -1/,
  ],
  [
    'breaker.cooldown beyond a timer',
    { rules, breaker: { cooldown: '30d', maxCooldown: '60d' } },
    'breaker.cooldown',
    /expected at most 2147483647 ms/,
  ],
  [
    'breaker.maxCooldown true',
    { rules, breaker: { maxCooldown: true } },
    'breaker.maxCooldown',
    /got true/,
  ],
  [
    'breaker.maxCooldown below the cooldown',
    { rules, breaker: { cooldown: '2s', maxCooldown: '1s' } },
    'breaker.maxCooldown',
    /expected at least breaker.cooldown \(2000 ms\), got 1000 ms/,
  ],
  [
    'breaker.maxCooldown below the default cooldown',
    { rules, breaker: { maxCooldown: '100ms' } },
    'breaker.maxCooldown',
    /expected at least breaker.cooldown \(500 ms\), got 100 ms/,
  ],
  [
    'breaker.cooldown above the default maxCooldown',
    { rules, breaker: { cooldown: '10s' } },
    'breaker.maxCooldown',
    /expected at least breaker.cooldown \(10000 ms\), got 5000 ms/,
  ],
]

describe('engine options are validated', () => {
  test.each(bad)('%s', (_, options, option, problem) => {
    const err = thrown(() => new CacheEngine(options))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    // An unknown option's message names it first: `unknown option "foo" (...)`.
    const named = err.message.startsWith(`option "${option}": `)
    expect(named || err.message.startsWith(`unknown option "${option}" (`)).toBe(true)
    expect(err.message).toMatch(problem)
  })

  test('a rule error is reported as such', () => {
    const err = thrown(() => new CacheEngine({ rules: [{ path: '/a' }] }))
    expect(err.code).toBe('CACHET_INVALID_RULE')
  })

  test.each<[string, Record<string, unknown>]>([
    ['defaults.ttl', { ttl: 'abc' }],
    ['defaults.statuses', { statuses: [500] }],
    ['defaults.maxBodySize', { maxBodySize: -1 }],
  ])('%s is validated up front, even when every rule sets its own', (option, defaults) => {
    const own = [{ path: '/a', ttl: 60, statuses: [200], maxBodySize: 100 }]
    const err = thrown(() => new CacheEngine({ rules: own, defaults }))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.message).toContain(`"${option}"`)
  })
})

describe('engine option defaults', () => {
  test.each<[string, unknown, Partial<ReturnType<typeof resolveOptions>>]>([
    [
      'defaults',
      { rules },
      { namespace: 'cachet', maxWaiters: 1000, maxWaitMs: 10_000, defaults: {}, l1: {} },
    ],
    ['a bare array is the rules', rules, { rules, namespace: 'cachet' }],
    ['namespace', { rules, namespace: 'shop-1.v2_x' }, { namespace: 'shop-1.v2_x' }],
    [
      'coalesce',
      { rules, coalesce: { maxWaiters: 0, maxWait: '250ms' } },
      { maxWaiters: 0, maxWaitMs: 250 },
    ],
    ['coalesce.maxWait in seconds', { rules, coalesce: { maxWait: 2 } }, { maxWaitMs: 2000 }],
    [
      'breaker defaults: 5 failures, 500 ms, 5 s',
      { rules },
      { breaker: { failures: 5, cooldownMs: 500, maxCooldownMs: 5000 } },
    ],
    [
      'breaker given',
      { rules, breaker: { failures: 2, cooldown: '50ms', maxCooldown: 1 } },
      { breaker: { failures: 2, cooldownMs: 50, maxCooldownMs: 1000 } },
    ],
    [
      'breaker.maxCooldown equal to the cooldown',
      { rules, breaker: { cooldown: '1s', maxCooldown: '1000ms' } },
      { breaker: { failures: 5, cooldownMs: 1000, maxCooldownMs: 1000 } },
    ],
    [
      'breaker.cooldown 0 (probe at once)',
      { rules, breaker: { cooldown: 0 } },
      { breaker: { failures: 5, cooldownMs: 0, maxCooldownMs: 5000 } },
    ],
    [
      'store.l1 passed on',
      { rules, store: { l1: { maxBytes: '8MiB' } } },
      { l1: { maxBytes: '8MiB' } },
    ],
  ])('%s', (_, input, expected) => {
    expect(resolveOptions(input)).toMatchObject(expected)
  })

  test('the namespace prefixes every key', async () => {
    const engine = new CacheEngine({ rules, namespace: 'shop' })
    const m = engine.match('GET', '/a')
    if (m === undefined || m.rule.kind !== 'cache') throw new Error('expected a cache rule')
    const l = await engine.lookup(
      { rule: m.rule, params: m.params },
      { method: 'GET', path: '/a', rawQuery: '', headers: {}, user: undefined },
    )
    if (l.type !== 'miss') throw new Error('expected a miss')
    expect(l.fill.key.startsWith('shop:')).toBe(true)
  })
})

describe('adapter support', () => {
  test.each<[unknown, string | undefined]>([
    ['alice', 'alice'],
    [{ id: 'u1' }, 'u1'],
    [{ id: 42 }, '42'],
    [{ id: { nested: 1 } }, undefined],
    [{ name: 'x' }, undefined],
    [null, undefined],
    [undefined, undefined],
    [7, undefined],
  ])('userIdOf(%p) → %p', (user, expected) => expect(userIdOf(user)).toBe(expected))

  const fallback = () => 'fallback'
  const identify = () => 'mine'

  test('splitAdapterOptions: rules alone use the fallback identify', () => {
    expect(splitAdapterOptions(rules, fallback)).toEqual([{ rules }, fallback])
  })

  test('splitAdapterOptions: identify is taken out of the engine options', () => {
    expect(splitAdapterOptions({ rules, namespace: 'x', identify }, fallback)).toEqual([
      { rules, namespace: 'x' },
      identify,
    ])
  })

  test('splitAdapterOptions: a non-function identify is refused', () => {
    const err = thrown(() =>
      splitAdapterOptions(
        { rules, identify: 'user' } as unknown as { rules: typeof rules },
        fallback,
      ),
    )
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    expect(err.message).toMatch(/^option "identify": expected a function/)
  })
})
