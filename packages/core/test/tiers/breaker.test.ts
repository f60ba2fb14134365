import { type BreakerOptions, type BreakerState, CircuitBreaker } from '../../src/tiers/breaker'

type Change = [state: BreakerState, previous: BreakerState, failures: number]

/** A breaker with its state changes recorded; time is passed in by the test. */
function breaker(over: Partial<BreakerOptions> = {}): { b: CircuitBreaker; changes: Change[] } {
  const changes: Change[] = []
  const b = new CircuitBreaker(
    { failures: 3, cooldownMs: 100, maxCooldownMs: 1000, ...over },
    (state, previous, failures) => changes.push([state, previous, failures]),
  )
  return { b, changes }
}

/** Opens a closed breaker at `now` with `failures` failures in a row. */
function open(b: CircuitBreaker, now: number, failures = 3): void {
  for (let i = 0; i < failures; i++) {
    expect(b.allow(now)).toBe(true)
    b.failure(now)
  }
  expect(b.state).toBe('open')
}

describe('CircuitBreaker: closed', () => {
  test('starts closed and lets every call through', () => {
    const { b, changes } = breaker()
    expect(b.state).toBe('closed')
    for (let i = 0; i < 10; i++) expect(b.allow(i)).toBe(true)
    expect(b.rejected).toBe(0)
    expect(b.opened).toBe(0)
    expect(changes).toEqual([])
  })

  test('N-1 consecutive failures keep it closed; the Nth opens it', () => {
    const { b, changes } = breaker({ failures: 3 })
    b.failure(0)
    b.failure(0)
    expect(b.state).toBe('closed')
    expect(b.allow(0)).toBe(true)
    expect(changes).toEqual([])
    b.failure(0)
    expect(b.state).toBe('open')
    expect(b.opened).toBe(1)
    expect(changes).toEqual([['open', 'closed', 3]])
  })

  test('a success resets the count: failures must be consecutive', () => {
    const { b } = breaker({ failures: 3 })
    b.failure(0)
    b.failure(0)
    b.success()
    b.failure(0)
    b.failure(0)
    expect(b.state).toBe('closed')
    b.success()
    b.failure(0)
    b.failure(0)
    expect(b.state).toBe('closed')
    b.failure(0)
    expect(b.state).toBe('open')
  })

  test('failures: 1 opens on the first failure', () => {
    const { b, changes } = breaker({ failures: 1 })
    b.failure(5)
    expect(b.state).toBe('open')
    expect(changes).toEqual([['open', 'closed', 1]])
  })

  test('a success while closed reports no change', () => {
    const { b, changes } = breaker()
    b.success()
    b.failure(0)
    b.success()
    expect(changes).toEqual([])
  })
})

describe('CircuitBreaker: open', () => {
  test('refuses every call until the cooldown ends, counting them', () => {
    const { b } = breaker({ cooldownMs: 100 })
    open(b, 1000)
    expect(b.allow(1000)).toBe(false)
    expect(b.allow(1050)).toBe(false)
    expect(b.allow(1099)).toBe(false)
    expect(b.rejected).toBe(3)
    expect(b.state).toBe('open')
  })

  test('further failures while open neither reopen it nor count as an opening', () => {
    const { b, changes } = breaker()
    open(b, 0)
    b.failure(10)
    b.failure(20)
    expect(b.opened).toBe(1)
    expect(b.state).toBe('open')
    expect(changes).toHaveLength(1)
    // ...nor push the end of the cooldown back.
    expect(b.allow(100)).toBe(true)
  })

  test('a success while open (a call made before it opened) closes it', () => {
    const { b, changes } = breaker()
    open(b, 0)
    b.success()
    expect(b.state).toBe('closed')
    expect(changes.at(-1)).toEqual(['closed', 'open', 0])
    expect(b.allow(1)).toBe(true)
  })
})

describe('CircuitBreaker: half-open', () => {
  test('after the cooldown exactly one probe goes through', () => {
    const { b, changes } = breaker({ cooldownMs: 100 })
    open(b, 1000)
    expect(b.allow(1100)).toBe(true)
    expect(b.state).toBe('half-open')
    expect(changes.at(-1)).toEqual(['half-open', 'open', 3])
    expect(b.allow(1100)).toBe(false)
    expect(b.allow(1150)).toBe(false)
    expect(b.rejected).toBe(2)
    expect(b.state).toBe('half-open')
  })

  test("the probe's success closes it and resets the failure count", () => {
    const { b, changes } = breaker({ failures: 3, cooldownMs: 100 })
    open(b, 0)
    expect(b.allow(100)).toBe(true)
    b.success()
    expect(b.state).toBe('closed')
    expect(changes).toEqual([
      ['open', 'closed', 3],
      ['half-open', 'open', 3],
      ['closed', 'half-open', 0],
    ])
    for (let i = 0; i < 5; i++) expect(b.allow(101)).toBe(true)
    b.failure(101)
    b.failure(101)
    expect(b.state).toBe('closed')
  })

  test("the probe's failure reopens it with twice the cooldown, capped: 100 → 200 → 400 → 500 → 500", () => {
    const { b } = breaker({ cooldownMs: 100, maxCooldownMs: 500 })
    open(b, 0)
    const probeFailsAt = (t: number) => {
      expect(b.allow(t)).toBe(true)
      b.failure(t)
    }
    probeFailsAt(100) // open until 300
    expect(b.allow(299)).toBe(false)
    probeFailsAt(300) // open until 700
    expect(b.allow(699)).toBe(false)
    probeFailsAt(700) // open until 1200 (400 doubled to 800, capped at 500)
    expect(b.allow(1199)).toBe(false)
    probeFailsAt(1200) // capped again: open until 1700
    expect(b.allow(1699)).toBe(false)
    expect(b.allow(1700)).toBe(true)
    expect(b.opened).toBe(5)
  })

  test("a successful probe resets the cooldown to the first one's length", () => {
    const { b } = breaker({ failures: 1, cooldownMs: 100, maxCooldownMs: 1000 })
    b.failure(0) // open until 100
    expect(b.allow(100)).toBe(true)
    b.failure(100) // open until 300
    expect(b.allow(300)).toBe(true)
    b.success()
    expect(b.state).toBe('closed')
    b.failure(1000) // opens again: the cooldown is 100 again, not 400
    expect(b.allow(1099)).toBe(false)
    expect(b.allow(1100)).toBe(true)
  })

  test('a failure of another operation while half-open reopens it too', () => {
    const { b, changes } = breaker({ cooldownMs: 100 })
    open(b, 0)
    expect(b.allow(100)).toBe(true)
    b.failure(120)
    expect(b.state).toBe('open')
    expect(changes.at(-1)).toEqual(['open', 'half-open', 4])
    expect(b.allow(319)).toBe(false)
    expect(b.allow(320)).toBe(true)
  })

  test('a probe that never reports is replaced after maxCooldown (not before)', () => {
    const { b } = breaker({ cooldownMs: 100, maxCooldownMs: 1000 })
    open(b, 0)
    expect(b.allow(100)).toBe(true) // the probe, which never reports
    expect(b.allow(600)).toBe(false)
    expect(b.allow(1100)).toBe(false) // exactly maxCooldown later: still waiting
    expect(b.allow(1101)).toBe(true) // a new probe
    expect(b.allow(1101)).toBe(false) // ...only one
    expect(b.state).toBe('half-open')
    b.success()
    expect(b.state).toBe('closed')
  })

  test('the replacement probe is itself replaced only maxCooldown after it started', () => {
    const { b } = breaker({ cooldownMs: 100, maxCooldownMs: 1000 })
    open(b, 0)
    expect(b.allow(100)).toBe(true)
    expect(b.allow(1101)).toBe(true)
    expect(b.allow(2101)).toBe(false)
    expect(b.allow(2102)).toBe(true)
  })
})

describe('CircuitBreaker: counters', () => {
  test('opened counts every opening; rejected counts every refused call', () => {
    const { b } = breaker({ failures: 2, cooldownMs: 10, maxCooldownMs: 10 })
    b.failure(0)
    b.failure(0) // opened 1
    expect(b.allow(5)).toBe(false)
    expect(b.allow(10)).toBe(true)
    b.failure(10) // opened 2
    expect(b.allow(15)).toBe(false)
    expect(b.allow(19)).toBe(false)
    expect(b.allow(20)).toBe(true)
    expect(b.allow(20)).toBe(false)
    b.success()
    b.failure(30)
    b.failure(30) // opened 3
    expect(b.opened).toBe(3)
    expect(b.rejected).toBe(4)
  })

  test('onChange reports every transition in order, with the failures in a row', () => {
    const { b, changes } = breaker({ failures: 2, cooldownMs: 10, maxCooldownMs: 40 })
    b.failure(0)
    b.failure(0)
    b.allow(10)
    b.failure(10)
    b.allow(30)
    b.success()
    expect(changes).toEqual([
      ['open', 'closed', 2],
      ['half-open', 'open', 2],
      ['open', 'half-open', 3],
      ['half-open', 'open', 3],
      ['closed', 'half-open', 0],
    ])
  })
})
