import { Redis } from 'ioredis'
import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError } from '../../src/errors'
import { TierLog } from '../../src/observe/tier-log'
import { resolveOptions } from '../../src/options/cache-options'
import { ConnectionWatch, clientLocation, socketCause } from '../../src/redis/connection'
import { DeadlineError } from '../../src/tiers/deadline'
import { FakeTier } from '../fake-tier'
import { FakeOrigin, request, thrown } from '../support'

// The shared tier's health as log lines (option `logger`): formatting, dedup
// and rate limit with a mock logger and a hand-driven clock.

const INTERVAL = 30_000

function refused(port = 6392): Error {
  return Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
    address: '127.0.0.1',
    port,
  })
}

let clock = 0
function rig(
  tier: { name: string; location?: string; causeOf?: (e: Error) => string } = {
    name: 'redis',
    location: 'redis://127.0.0.1:6392',
  },
) {
  const lines: string[] = []
  const log = new TierLog({ warn: (m) => lines.push(m) }, tier, {
    intervalMs: INTERVAL,
    now: () => clock,
  })
  return { log, lines }
}

beforeEach(() => {
  clock = 1_000_000
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] })
})
afterEach(() => jest.useRealTimers())

describe('messages', () => {
  test('cannot connect: one message for any number of failed attempts, naming the URL and the cause', () => {
    const { log, lines } = rig()
    for (let i = 0; i < 20; i++) log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    expect(lines).toEqual([
      'cachet: cannot connect to the shared tier (redis at redis://127.0.0.1:6392): ECONNREFUSED 127.0.0.1:6392. Requests go on without it; retrying in the background',
    ])
  })

  test('recovery: one message, with how long it was down', () => {
    const { log, lines } = rig()
    log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    clock += 4200
    log.connection(true)
    log.connection(true)
    expect(lines).toHaveLength(2)
    expect(lines[1]).toBe(
      'cachet: the shared tier (redis at redis://127.0.0.1:6392) answers again (after 4.2 s)',
    )
  })

  test('a healthy start says nothing', () => {
    const { log, lines } = rig()
    log.connection(true)
    log.breaker('closed', 0)
    expect(lines).toEqual([])
  })

  test('a connection lost after being up says "lost"', () => {
    const { log, lines } = rig()
    log.connection(true)
    log.connection(false, 'ECONNRESET 127.0.0.1:6392')
    expect(lines).toEqual([
      expect.stringMatching(
        /^cachet: lost the connection to the shared tier \(redis at redis:\/\/127\.0\.0\.1:6392\): ECONNRESET 127\.0\.0\.1:6392\./,
      ),
    ])
  })

  test('failed operations alone log nothing; the breaker opening logs once, with the last cause', () => {
    const { log, lines } = rig()
    log.connection(true)
    for (let i = 0; i < 4; i++) log.failed(new DeadlineError('read', 50))
    expect(lines).toEqual([])
    log.breaker('open', 5)
    log.breaker('half-open', 5)
    log.failed(new DeadlineError('read', 50))
    log.breaker('open', 6)
    expect(lines).toEqual([
      'cachet: the shared tier (redis at redis://127.0.0.1:6392) is degraded: read took longer than 50 ms (5 failure(s) in a row). Requests go on without it; retrying in the background',
    ])
    log.breaker('closed', 0)
    expect(lines).toHaveLength(2)
    expect(lines[1]).toMatch(/answers again/)
  })

  test("the tier's own words replace the client's: causeOf translates the last error", () => {
    const { log, lines } = rig({
      name: 'redis',
      location: 'redis://127.0.0.1:6392',
      causeOf: (e) => e.message.replace("Stream isn't writeable", 'ECONNREFUSED 127.0.0.1:6392'),
    })
    log.failed(new Error("Stream isn't writeable"))
    log.breaker('open', 5)
    expect(lines[0]).toMatch(/is degraded: ECONNREFUSED 127\.0\.0\.1:6392 \(5 failure/)
    expect(lines[0]).not.toMatch(/Stream/)
  })

  test('a tier that reports no connection (Keyv): named without a location, breaker only', () => {
    const { log, lines } = rig({ name: 'keyv' })
    log.failed(new Error('store down'))
    log.breaker('open', 5)
    expect(lines).toEqual([
      expect.stringMatching(
        /^cachet: the shared tier \(keyv\) is degraded: store down \(5 failure/,
      ),
    ])
  })

  test('an open breaker while the connection is down adds no message', () => {
    const { log, lines } = rig()
    log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    log.failed(new Error("Stream isn't writeable"))
    log.breaker('open', 5)
    // Connected again, but the breaker has not probed yet: still out of service.
    log.connection(true)
    expect(lines).toHaveLength(1)
    log.breaker('half-open', 5)
    log.breaker('closed', 0)
    expect(lines).toHaveLength(2)
    expect(lines[1]).toMatch(/answers again/)
  })

  test('a logger that throws breaks nothing; a closed log says nothing', () => {
    const log = new TierLog(
      {
        warn: () => {
          throw new Error('broken logger')
        },
      },
      { name: 'redis' },
    )
    expect(() => log.connection(false, 'x')).not.toThrow()
    const lines: string[] = []
    const closed = new TierLog({ warn: (m) => lines.push(m) }, { name: 'redis' })
    closed.close()
    closed.connection(false, 'x')
    expect(lines).toEqual([])
  })
})

describe('rate limit', () => {
  test('a flapping tier: one outage message per interval; the state at its end is told', () => {
    const { log, lines } = rig()
    log.connection(true)
    log.connection(false, 'ECONNRESET 127.0.0.1:6392')
    clock += 1000
    log.connection(true)
    expect(lines).toHaveLength(2) // lost, answers again
    for (let i = 0; i < 5; i++) {
      clock += 1000
      log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
      clock += 1000
      log.connection(true)
    }
    expect(lines).toHaveLength(2)
    clock += 1000
    log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    expect(lines).toHaveLength(2)
    clock = 1_000_000 + INTERVAL
    jest.advanceTimersByTime(INTERVAL)
    expect(lines).toHaveLength(3)
    expect(lines[2]).toMatch(
      /^cachet: lost the connection to the shared tier \(redis at redis:\/\/127\.0\.0\.1:6392\): ECONNREFUSED 127\.0\.0\.1:6392 \(down 6 times since the last message\)\./,
    )
  })

  test('flaps that end up: one summary line at the end of the interval', () => {
    const { log, lines } = rig()
    log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    log.connection(true)
    log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    log.connection(true)
    log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    log.connection(true)
    expect(lines).toHaveLength(2)
    clock += INTERVAL
    jest.advanceTimersByTime(INTERVAL)
    expect(lines).toHaveLength(3)
    expect(lines[2]).toBe(
      'cachet: the shared tier (redis at redis://127.0.0.1:6392) went down 2 more time(s) in the last 30 s; it answers now',
    )
    // Past the interval: the next outage is told at once.
    log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    expect(lines).toHaveLength(4)
  })
})

describe('ready status', () => {
  test('connected, unreachable with the cause, or no answer within the wait', () => {
    const ok = rig()
    ok.log.connection(true)
    expect(ok.log.status(true, 3)).toEqual({ shared: 'connected' })

    const down = rig()
    down.log.connection(false, 'ECONNREFUSED 127.0.0.1:6392')
    expect(down.log.status(false, 2000)).toEqual({
      shared: 'unreachable',
      cause: 'ECONNREFUSED 127.0.0.1:6392',
    })
    expect(down.lines).toHaveLength(1)

    // A hung Redis: no error, no answer. Told once, as "cannot connect".
    const hung = rig()
    expect(hung.log.status(false, 2004)).toEqual({
      shared: 'unreachable',
      cause: 'no answer within 2004 ms',
    })
    expect(hung.lines).toEqual([expect.stringMatching(/^cachet: cannot connect to .*no answer/)])
  })

  test('engine.start() resolves with the status; none without a shared tier', async () => {
    jest.useRealTimers()
    const memoryOnly = new CacheEngine({ rules: [{ path: '/a', ttl: 60 }] })
    expect(await memoryOnly.start()).toEqual({ shared: 'none' })
    const tier = new FakeTier()
    const engine = new CacheEngine({
      rules: [{ path: '/a', ttl: 60 }],
      store: { l2: tier },
      logger: false,
    })
    expect(await engine.start()).toEqual({ shared: 'connected' })
    const untrusted = new FakeTier()
    untrusted.isTrusted = false
    const lines: string[] = []
    const e2 = new CacheEngine({
      rules: [{ path: '/a', ttl: 60 }],
      store: { l2: untrusted },
      logger: { warn: (m: string) => lines.push(m) },
    })
    expect(await e2.start()).toMatchObject({ shared: 'unreachable' })
    expect(lines).toHaveLength(1)
  })
})

describe('through the engine', () => {
  test('a failing tier: every request answered by the origin, one message, not one per failure', async () => {
    jest.useRealTimers()
    const tier = new FakeTier()
    const lines: string[] = []
    const engine = new CacheEngine({
      rules: [{ name: 'item', path: '/items/:id', ttl: 60 }],
      store: { l2: tier },
      logger: { warn: (m: string) => lines.push(m) },
    })
    await engine.start()
    tier.hooks?.onConnection?.(true)
    tier.behaviour.read = 'fail'
    const origin = new FakeOrigin()
    for (let i = 1; i <= 20; i++) await request(engine, origin, `/items/${i}`)
    expect(origin.calls).toBe(20)
    expect(lines).toEqual([
      'cachet: the shared tier (fake) is degraded: fake read failed (5 failure(s) in a row). Requests go on without it; retrying in the background',
    ])
    tier.hooks?.onConnection?.(false, 'ECONNREFUSED 127.0.0.1:6392')
    tier.hooks?.onConnection?.(false, 'ECONNREFUSED 127.0.0.1:6392')
    expect(lines).toHaveLength(1)
    await engine.close()
  })
})

describe('option "logger"', () => {
  test.each<[string, unknown]>([
    ['a number', 1],
    ['a function', () => {}],
    ['an object without warn', { info: () => {} }],
    ['true', true],
    ['null', null],
  ])('refuses %s', (_, logger) => {
    const err = thrown(() => resolveOptions({ rules: [], logger }))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.message).toMatch(
      /^option "logger": expected an object with a warn\(message\) method \(console, a pino or winston logger\) or false, got /,
    )
  })

  test('false silences; the default is console.warn, looked up at each message; a logger keeps its this', () => {
    expect(resolveOptions({ rules: [], logger: false }).logger).toBeUndefined()
    const spy = jest.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      resolveOptions({ rules: [] }).logger?.warn('hello')
      expect(spy).toHaveBeenCalledWith('hello')
    } finally {
      spy.mockRestore()
    }
    const pinoLike = {
      lines: [] as string[],
      warn(this: { lines: string[] }, m: string) {
        this.lines.push(m)
      },
    }
    resolveOptions({ rules: [], logger: pinoLike }).logger?.warn('x')
    expect(pinoLike.lines).toEqual(['x'])
  })
})

describe('Redis causes and locations', () => {
  test.each<[string, Error, string]>([
    ['refused', refused(), 'ECONNREFUSED 127.0.0.1:6392'],
    [
      'DNS',
      Object.assign(new Error('getaddrinfo ENOTFOUND redis.invalid'), {
        code: 'ENOTFOUND',
        hostname: 'redis.invalid',
      }),
      'ENOTFOUND redis.invalid',
    ],
    [
      "ioredis's connect timeout (no address)",
      Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }),
      'ETIMEDOUT 10.0.0.5:6379',
    ],
    [
      'a reply error',
      new Error('WRONGPASS invalid username-password pair'),
      'WRONGPASS invalid username-password pair',
    ],
    [
      "a cluster's last node error",
      Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: refused(7000) }),
      'ECONNREFUSED 127.0.0.1:7000',
    ],
  ])('socketCause: %s', (_, error, cause) => {
    expect(socketCause(error, '10.0.0.5:6379')).toBe(cause)
  })

  test.each<[string, string]>([
    ['redis://127.0.0.1:6392', 'redis://127.0.0.1:6392'],
    ['redis://:secret@cache.internal:6380/2', 'redis://:***@cache.internal:6380/2'],
    ['redis://app:secret@cache.internal:6380', 'redis://app:***@cache.internal:6380'],
    ['rediss://cache.internal', 'rediss://cache.internal:6379'],
  ])('clientLocation(%s): no password', (url, location) => {
    const client = new Redis(url, { lazyConnect: true })
    expect(clientLocation(client)).toBe(location)
    client.disconnect()
  })

  test("ConnectionWatch: ioredis's words for a missing connection become the last socket error", () => {
    const client = new Redis('redis://127.0.0.1:6392', { lazyConnect: true })
    const watch = new ConnectionWatch(client)
    const reports: Array<[boolean, string | undefined]> = []
    watch.reportTo((up, cause) => reports.push([up, cause]))
    const stream = new Error("Stream isn't writeable and enableOfflineQueue options is false")
    expect(watch.causeOf(stream)).toBe('not connected to 127.0.0.1:6392')
    client.emit('error', refused())
    client.emit('error', refused())
    expect(watch.causeOf(stream)).toBe('ECONNREFUSED 127.0.0.1:6392')
    expect(watch.causeOf(new Error('Connection is closed.'))).toBe('ECONNREFUSED 127.0.0.1:6392')
    expect(
      watch.causeOf(
        new Error(
          "invalidate(): could not record the invalidation in Redis: Stream isn't writeable and enableOfflineQueue options is false",
        ),
      ),
    ).toBe('invalidate(): could not record the invalidation in Redis: ECONNREFUSED 127.0.0.1:6392')
    expect(watch.causeOf(new DeadlineError('read', 50))).toBe('read took longer than 50 ms')
    expect(reports).toEqual([
      [false, 'ECONNREFUSED 127.0.0.1:6392'],
      [false, 'ECONNREFUSED 127.0.0.1:6392'],
    ])
    client.emit('ready')
    expect(reports.at(-1)).toEqual([true, undefined])
    // Ready again: an old cause is not reused.
    expect(watch.causeOf(stream)).toBe('not connected to 127.0.0.1:6392')
    client.disconnect()
  })
})
