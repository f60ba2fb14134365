import { PurgeQueue, type PurgeReport } from '../../src/cdn/purge-queue'
import type { PurgeBatch, PurgeResult, Purger } from '../../src/cdn/purger'

// The purge queue's own rules, around a purger that answers as each test
// says (the real purgers are tested against local CDN servers in
// test/cdn/purgers.test.ts): batching, pacing, retries, never dropping.

class ScriptedPurger implements Purger {
  readonly name = 'scripted'
  readonly soft = false
  readonly batches: PurgeBatch[] = []
  alls = 0
  /** Answers for the next calls, in order; then `{ ok: true }`. */
  readonly answers: PurgeResult[] = []
  purgeAll?: (signal: AbortSignal) => Promise<PurgeResult>
  constructor(
    readonly maxTags = 2,
    readonly maxPaths = 0,
    withAll = false,
  ) {
    if (withAll)
      this.purgeAll = async () => {
        this.alls++
        return this.answers.shift() ?? { ok: true, status: 200 }
      }
  }
  async send(batch: PurgeBatch): Promise<PurgeResult> {
    this.batches.push({ tags: [...batch.tags], paths: [...batch.paths] })
    return this.answers.shift() ?? { ok: true, status: 200 }
  }
}

const fast = { maxPending: 100, perSecond: 1000, timeoutMs: 1000 }
let queues: PurgeQueue[] = []
afterEach(async () => {
  for (const q of queues) await q.close(10)
  queues = []
})

function queue(purger: Purger, settings = fast): { q: PurgeQueue; reports: PurgeReport[] } {
  const reports: PurgeReport[] = []
  const q = new PurgeQueue(purger, settings, (r) => reports.push(r))
  queues.push(q)
  return { q, reports }
}

test('tags are deduplicated and sent in batches of what one call takes', async () => {
  const p = new ScriptedPurger(2)
  const { q, reports } = queue(p)
  q.add(['a', 'b', 'a'], [])
  q.add(['c', 'b'], [])
  expect(await q.drained(2000)).toBe(true)
  expect(p.batches.map((b) => b.tags)).toEqual([['a', 'b'], ['c']])
  expect(q.counts).toMatchObject({ pending: 0, ok: 2, failed: 0, tags: 3 })
  expect(reports.map((r) => r.ok)).toEqual([true, true])
})

test('a failed call is retried after the CDN’s wait, its batch first, until it is accepted', async () => {
  const p = new ScriptedPurger(5)
  p.answers.push(
    { ok: false, retry: true, status: 429, error: 'slow down', retryAfterMs: 50 },
    { ok: false, retry: true, status: 503, error: 'unavailable' },
  )
  const { q, reports } = queue(p)
  q.add(['a', 'b'], [])
  const started = Date.now()
  expect(await q.drained(5000)).toBe(true)
  // 429 (wait 500 ms: the backoff is longer than the CDN's 50), 503 (1 s), then ok.
  expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
  expect(p.batches.map((b) => b.tags)).toEqual([
    ['a', 'b'],
    ['a', 'b'],
    ['a', 'b'],
  ])
  expect(reports.map((r) => [r.ok, r.attempt, r.status])).toEqual([
    [false, 1, 429],
    [false, 2, 503],
    [true, 3, 200],
  ])
  expect(reports[0]?.retryInMs).toBe(500)
  expect(q.counts).toMatchObject({ ok: 1, failed: 2, tags: 2 })
})

test('a Retry-After longer than the backoff is waited for', async () => {
  const p = new ScriptedPurger(5)
  p.answers.push({ ok: false, retry: true, status: 429, error: 'later', retryAfterMs: 1200 })
  const { q, reports } = queue(p)
  q.add(['a'], [])
  const started = Date.now()
  expect(await q.drained(5000)).toBe(true)
  expect(Date.now() - started).toBeGreaterThanOrEqual(1150)
  expect(reports[0]?.retryInMs).toBe(1200)
  expect(p.batches).toHaveLength(2)
})

test('a refusal retrying cannot mend is kept and reported, never dropped', async () => {
  const p = new ScriptedPurger(5)
  p.answers.push({ ok: false, retry: false, status: 403, error: 'bad token' })
  const { q, reports } = queue(p)
  q.add(['a'], [])
  expect(await q.drained(300)).toBe(false)
  expect(q.counts.pending).toBe(1)
  expect(reports).toEqual([expect.objectContaining({ ok: false, status: 403, retryInMs: 60_000 })])
  // Closing with it still waiting is reported as not purged.
  await q.close(10)
  expect(reports.at(-1)).toMatchObject({
    ok: false,
    tags: 1,
    error: expect.stringContaining('closed'),
  })
})

test('calls are paced at perSecond', async () => {
  const p = new ScriptedPurger(1)
  const { q } = queue(p, { ...fast, perSecond: 10 })
  q.add(['a', 'b', 'c', 'd'], [])
  const started = Date.now()
  expect(await q.drained(3000)).toBe(true)
  expect(p.batches).toHaveLength(4)
  // Four calls, 100 ms apart at the least.
  expect(Date.now() - started).toBeGreaterThanOrEqual(290)
})

test('paths go only to a purger that can purge them; otherwise they are counted as unsupported', async () => {
  const none = new ScriptedPurger(5, 0)
  const a = queue(none)
  a.q.add(['t'], ['/a/*'])
  expect(await a.q.drained(1000)).toBe(true)
  expect(none.batches).toEqual([{ tags: ['t'], paths: [] }])
  expect(a.q.counts.unsupported).toBe(1)

  const paths = new ScriptedPurger(5, 5)
  const b = queue(paths)
  b.q.add(['t'], ['/a/*'])
  expect(await b.q.drained(1000)).toBe(true)
  // Tags and paths go in calls of their own.
  expect(paths.batches).toEqual([
    { tags: ['t'], paths: [] },
    { tags: [], paths: ['/a/*'] },
  ])
})

test('past maxPending: one purge of everything where the CDN has one', async () => {
  const p = new ScriptedPurger(2, 0, true)
  const { q } = queue(p, { ...fast, maxPending: 3, perSecond: 1 })
  q.add(['a', 'b', 'c', 'd'], [])
  expect(await q.drained(3000)).toBe(true)
  expect(p.alls).toBe(1)
  expect(p.batches).toEqual([])
  expect(q.counts.overflows).toBe(1)
})

test('past maxPending without a purge of everything: the newest are refused, reported', async () => {
  const p = new ScriptedPurger(10)
  const { q, reports } = queue(p, { ...fast, maxPending: 3 })
  q.add(['a', 'b', 'c', 'd', 'e'], [])
  expect(await q.drained(2000)).toBe(true)
  expect(p.batches.map((b) => b.tags)).toEqual([['a', 'b', 'c']])
  expect(reports[0]).toMatchObject({
    ok: false,
    tags: 2,
    error: expect.stringContaining('not queued'),
  })
  expect(q.counts.overflows).toBe(1)
})

test('a tag invalidated again while a call carrying it is under way is sent again', async () => {
  const p = new ScriptedPurger(5)
  let release: () => void = () => {}
  const held = new Promise<void>((r) => {
    release = r
  })
  const send = p.send.bind(p)
  let first = true
  p.send = async (batch) => {
    if (first) {
      first = false
      await held
    }
    return send(batch)
  }
  const { q } = queue(p)
  q.add(['a'], [])
  for (let i = 0; i < 50 && p.batches.length === 0 && first; i++)
    await new Promise((r) => setTimeout(r, 5))
  q.add(['a'], []) // while the first call is under way
  release()
  expect(await q.drained(2000)).toBe(true)
  expect(p.batches.map((b) => b.tags)).toEqual([['a'], ['a']])
})

test('a refusal is set aside: the purges after it go on; it is retried on its own', async () => {
  const p = new ScriptedPurger(1)
  p.answers.push({ ok: false, retry: false, status: 400, error: 'bad tag' })
  const { q, reports } = queue(p)
  q.add(['bad', 'good1', 'good2'], [])
  await new Promise((r) => setTimeout(r, 200))
  expect(p.batches.map((b) => b.tags)).toEqual([['bad'], ['good1'], ['good2']])
  expect(q.counts.pending).toBe(1)
  expect(reports[0]).toMatchObject({ ok: false, status: 400, retryInMs: 60_000 })
})

test('a listener that throws does not stop the queue', async () => {
  const p = new ScriptedPurger(1)
  const q = new PurgeQueue(p, fast, () => {
    throw new Error('listener bug')
  })
  queues.push(q)
  q.add(['a', 'b'], [])
  expect(await q.drained(2000)).toBe(true)
  expect(p.batches).toHaveLength(2)
})
