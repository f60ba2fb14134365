import { setTimeout as sleep } from 'node:timers/promises'
import {
  type CreateShop,
  type InvalidateTarget,
  jsonBody,
  type OriginCalls,
  type Reply,
  type RunningShop,
  type ShopConfig,
  sha256,
  startShop,
} from '../support/shops'
import type {
  ConcurrentStep,
  Expectation,
  HeaderExpect,
  Labels,
  RefreshCounts,
  RequestStep,
  Scenario,
  StaleCounts,
  Step,
  WaitStep,
} from './scenarios'

/** How long a `waitFor` step or a `retryWhile` request may wait for background work. */
const WAIT_LIMIT_MS = 5_000
const POLL_EVERY_MS = 10

/**
 * The clock of a scenario's `{ clock: ms }` steps: `Date.now` of this (the
 * test) process, which is also the shop's, moved forward by the sum of the
 * steps so far, and put back when the scenario ends.
 *
 * Why moving `Date.now` is enough, and sound, to jump past a ttl or a stale
 * window instead of sleeping through it:
 * - Freshness is all `Date.now`: an entry's `cachedAt`, `staleAt` and
 *   `deleteAt`, `Age`, the stale windows, the retry delay of a background
 *   refresh, and the memory tier's expiry are computed from it, in the memory
 *   tier and for entries read back from Redis alike.
 * - What must follow real time does not read it: the Redis bus's leases use
 *   `performance.now()` and Redis's own `TIME`, and timers (`setTimeout`, the
 *   shop's origin delay) are not moved.
 * - Redis expires entries itself (`PX`), in real time, after the rule's whole
 *   lifetime (305 s for `/slow/:id`): much longer than a scenario runs, so an
 *   entry the clock has moved past is still there to be judged by its own
 *   `staleAt`/`deleteAt` (as it must be), never gone early.
 * - The few other `Date.now` readers (a flight's age, the circuit breaker, a
 *   lock poll's deadline) only matter while a request is in flight or Redis
 *   is failing: the scenarios move the clock between requests, once any
 *   background refresh they started has ended (a `waitFor` step).
 */
class ScenarioClock {
  readonly #realNow = Date.now
  #shiftMs = 0

  advance(ms: number): void {
    this.#shiftMs += ms
    const realNow = this.#realNow
    const shift = this.#shiftMs
    Date.now = () => realNow() + shift
  }

  restore(): void {
    Date.now = this.#realNow
  }
}

/**
 * Runs one scenario against a fresh shop behind a real loopback server, so that
 * cache contents and origin counters start at zero, and closes it afterwards.
 */
export async function runScenario(
  createShop: CreateShop,
  scenario: Scenario,
  store: Partial<ShopConfig> = {},
): Promise<void> {
  const running = await startShop(createShop, { ...scenario.config, ...store })
  const clock = new ScenarioClock()
  try {
    const labels = new Map<string, Reply>()
    for (const [i, step] of scenario.steps.entries()) {
      await within(`step ${i + 1} (${describeStep(step)})`, () =>
        runStep(running, step, labels, clock),
      )
    }
    await within('origin calls at the end', async () =>
      assertOriginCalls(await running.calls(), scenario.originCalls),
    )
  } finally {
    clock.restore()
    await running.close()
  }
}

async function runStep(
  running: RunningShop,
  step: Step,
  labels: Map<string, Reply>,
  clock: ScenarioClock,
) {
  if ('clock' in step) {
    clock.advance(step.clock)
  } else if ('waitFor' in step) {
    await waitFor(running, step)
  } else if ('invalidate' in step) {
    await running.shop.cache.invalidate(step.invalidate)
  } else if ('invalidateRejects' in step) {
    let result: Promise<unknown>
    try {
      result = running.shop.cache.invalidate(step.invalidateRejects as InvalidateTarget)
    } catch (error) {
      throw new Error(`invalidate() threw synchronously instead of rejecting: ${String(error)}`)
    }
    await expect(result).rejects.toThrow(step.message)
  } else if ('concurrent' in step) {
    await runConcurrent(running, step)
  } else {
    const reply = await sendRetrying(running, step, labels)
    assertReply(reply, step.expect, labels)
    if (step.label) labels.set(step.label, reply)
  }
}

/** Sends the request; again, for a bounded time, while its `X-Cache` is one of `retryWhile`. */
async function sendRetrying(running: RunningShop, step: RequestStep, labels: Labels) {
  const deadline = performance.now() + WAIT_LIMIT_MS
  for (;;) {
    const reply = await running.send(requestOf(step, labels))
    const xCache = reply.headers['x-cache']
    const again = xCache !== undefined && step.retryWhile?.includes(xCache as never) === true
    if (!again || performance.now() > deadline) return reply
    await sleep(POLL_EVERY_MS)
  }
}

/** Polls until every count of the step has reached its value, then asserts each is exactly that. */
async function waitFor(running: RunningShop, step: WaitStep) {
  const { originCalls: routes, refreshes, staleAnswers } = step.waitFor
  const stats = () => {
    const engine = running.shop.cache.engine
    if (engine === undefined) throw new Error("the shop's cache has no engine to ask")
    return engine.stats()
  }
  const observe = async () => {
    const observed: {
      originCalls?: Record<string, number>
      refreshes?: RefreshCounts
      staleAnswers?: StaleCounts
    } = {}
    if (routes !== undefined) {
      const { byRoute } = await running.calls()
      observed.originCalls = pick(byRoute, routes)
    }
    if (refreshes !== undefined) {
      observed.refreshes = pick(stats().revalidations, refreshes as Record<string, number>)
    }
    if (staleAnswers !== undefined) {
      observed.staleAnswers = pick(stats().stale, staleAnswers as Record<string, number>)
    }
    return observed
  }
  const reached = (observed: Awaited<ReturnType<typeof observe>>) =>
    atLeast(observed.originCalls, routes) &&
    atLeast(observed.refreshes, refreshes) &&
    atLeast(observed.staleAnswers, staleAnswers)
  const deadline = performance.now() + WAIT_LIMIT_MS
  let observed = await observe()
  while (!reached(observed) && performance.now() < deadline) {
    await sleep(POLL_EVERY_MS)
    observed = await observe()
  }
  expect(observed).toEqual(step.waitFor)
}

/** The counts of `from` named in `names` (0 when absent). */
function pick(from: Record<string, number>, names: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(names).map((name) => [name, from[name] ?? 0]))
}

function atLeast(
  observed: Record<string, number> | undefined,
  wanted: Record<string, number> | undefined,
): boolean {
  if (wanted === undefined) return true
  return Object.entries(wanted).every(([name, n]) => (observed?.[name] ?? 0) >= n)
}

function requestOf(step: RequestStep, labels: Labels) {
  const { ifNoneMatch, expect: _expect, label: _label, ...request } = step
  if (ifNoneMatch === undefined) return request
  const etag =
    typeof ifNoneMatch === 'string'
      ? ifNoneMatch
      : labelled(labels, ifNoneMatch.etagOf).headers.etag
  if (etag === undefined) throw new Error('the labelled reply has no ETag to send back')
  return { ...request, headers: { ...request.headers, 'if-none-match': etag } }
}

async function runConcurrent(running: RunningShop, step: ConcurrentStep) {
  const replies = await Promise.all(
    Array.from({ length: step.concurrent }, () => running.send(step.request)),
  )
  const counts: Record<string, number> = {}
  for (const reply of replies) {
    const xCache = reply.headers['x-cache'] ?? 'none'
    counts[xCache] = (counts[xCache] ?? 0) + 1
  }
  const { xCacheCounts, xCacheAmong } = step.expect
  expect(xCacheCounts !== undefined || xCacheAmong !== undefined).toBe(true)
  if (xCacheCounts !== undefined) expect(counts).toEqual(xCacheCounts)
  if (xCacheAmong !== undefined) {
    const unexpected = Object.keys(counts).filter((x) => !xCacheAmong.includes(x as never))
    expect({ counts, unexpected }).toEqual({ counts, unexpected: [] })
  }
  expect(replies.map((reply) => reply.status)).toEqual(replies.map(() => step.expect.status))
  const first = replies[0]!
  expect(replies.filter((reply) => !reply.body.equals(first.body))).toHaveLength(0)
  if (step.expect.json !== undefined) expect(jsonBody(first)).toMatchObject(step.expect.json)
}

function assertReply(reply: Reply, exp: Expectation, labels: Labels) {
  const xCache = reply.headers['x-cache'] ?? null
  expect({ status: reply.status, xCache }).toEqual({
    status: oneOf(reply.status, exp.status),
    xCache: oneOf(xCache, exp.xCache),
  })

  const headers: Record<string, HeaderExpect> = {
    ...invariantHeaders(reply, xCache),
    ...exp.headers,
  }
  if (exp.json !== undefined) headers['content-type'] ??= /^application\/json/
  const observed: Record<string, string | undefined> = {}
  const expected: Record<string, unknown> = {}
  for (const [name, want] of Object.entries(headers)) {
    observed[name] = reply.headers[name]
    expected[name] = headerMatcher(want, name, labels)
  }
  expect(observed).toEqual(expected)

  if (exp.json !== undefined) expect(jsonBody(reply)).toMatchObject(exp.json)
  if (exp.bodyEmpty) expect(reply.body.length).toBe(0)
  if (exp.bodyLength !== undefined) expect(reply.body.length).toBe(exp.bodyLength)
  if (exp.sha256 !== undefined) expect(sha256(reply.body)).toBe(exp.sha256)
  if (exp.sameAs !== undefined) {
    const other = labelled(labels, exp.sameAs)
    expect(reply.headers['content-type']).toBe(other.headers['content-type'])
    expect(printable(reply.body)).toEqual(printable(other.body))
  }
  exp.check?.(reply, labels)
}

/** What every response must carry, whatever the scenario (CONTRACT.md, "Response headers"). */
function invariantHeaders(reply: Reply, xCache: string | null): Record<string, HeaderExpect> {
  const headers: Record<string, HeaderExpect> = {}
  if (xCache === 'HIT' || xCache === 'STALE') headers.age = /^\d+$/
  if (xCache === 'HIT' && reply.status === 200) headers.etag = true
  const isJson = /^application\/json/.test(reply.headers['content-type'] ?? '')
  if (xCache === 'MISS' && reply.status === 200 && isJson) headers.etag = true
  // A route no rule matches is not touched by the cache at all.
  if (xCache === null) headers.age = null
  return headers
}

function headerMatcher(want: HeaderExpect, name: string, labels: Labels): unknown {
  if (want === null) return undefined
  if (want === true) return expect.any(String)
  if (typeof want === 'string') return want
  if (want instanceof RegExp) return expect.stringMatching(want)
  if ('sameAs' in want) return labelled(labels, want.sameAs).headers[name]
  return String(labelled(labels, want.lengthOf).body.length)
}

function assertOriginCalls(calls: OriginCalls, exp: Scenario['originCalls']) {
  expect(exp.total !== undefined || exp.byRoute !== undefined).toBe(true)
  const observed: Partial<OriginCalls> = {}
  if (exp.total !== undefined) observed.total = calls.total
  if (exp.byRoute !== undefined) {
    observed.byRoute = Object.fromEntries(Object.entries(calls.byRoute).filter(([, n]) => n !== 0))
  }
  expect(observed).toEqual(exp)
}

/** `actual` when it is one of `allowed`, so that `toEqual` passes; else what was allowed. */
function oneOf<T>(actual: T, allowed: T | readonly T[]): T | readonly T[] {
  return Array.isArray(allowed) && allowed.includes(actual) ? actual : allowed
}

/** Small bodies compare as text (a readable diff), large ones by length and digest. */
function printable(body: Buffer): unknown {
  return body.length <= 64 * 1024
    ? body.toString('utf8')
    : { length: body.length, sha256: sha256(body) }
}

function labelled(labels: Labels, label: string): Reply {
  const reply = labels.get(label)
  if (!reply) throw new Error(`no earlier reply is labelled "${label}"`)
  return reply
}

function describeStep(step: Step): string {
  if ('clock' in step) return `clock +${step.clock} ms`
  if ('waitFor' in step) return `wait for ${JSON.stringify(step.waitFor)}`
  if ('invalidate' in step) return `invalidate(${JSON.stringify(step.invalidate)})`
  if ('invalidateRejects' in step) return `invalidate(${JSON.stringify(step.invalidateRejects)})`
  const request = 'concurrent' in step ? step.request : step
  const headers = Object.keys(request.headers ?? {})
  if ('ifNoneMatch' in step && step.ifNoneMatch !== undefined) headers.push('if-none-match')
  const extra = headers.length > 0 ? ` with ${headers.join(', ')}` : ''
  const prefix = 'concurrent' in step ? `${step.concurrent} × ` : ''
  return `${prefix}${request.method ?? 'GET'} ${request.path}${extra}`
}

/** Prefixes any failure inside `fn` with where it happened in the scenario. */
async function within(where: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } catch (error) {
    if (error instanceof Error) {
      error.message = `${where}:\n${error.message}`
    }
    throw error
  }
}
