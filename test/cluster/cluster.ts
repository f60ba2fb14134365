import { randomBytes } from 'node:crypto'
import type http from 'node:http'
import {
  type ShopExit,
  type ShopKind,
  type ShopProcess,
  startShopProcess,
} from '../support/processes'
import {
  json,
  keepAliveAgent,
  quantile,
  type Reply,
  type RequestOptions,
  send,
  sleep,
  Tally,
  xCache,
} from './http'

// Two shop processes on one Redis and one key prefix (one cache cluster), and
// the write-then-read rounds that look for stale reads between them.

export interface Pair {
  /** The writer: every invalidating write goes to A. */
  a: ShopProcess
  /** The reader whose cache must honour A's invalidations. */
  b: ShopProcess
  agent: http.Agent
  prefix: string
  stop(): Promise<[ShopExit, ShopExit]>
}

export function uniquePrefix(label: string): string {
  return `cluster-${label}-${randomBytes(4).toString('hex')}`
}

/** Starts A and B (Express and Koa by default) on `redisUrl` under one prefix. */
export async function startPair(
  redisUrl: string,
  label: string,
  env: Record<string, string> = {},
  kinds: [ShopKind, ShopKind] = ['express', 'koa'],
): Promise<Pair> {
  const prefix = uniquePrefix(label)
  const shared = { REDIS_URL: redisUrl, CACHE_REDIS_PREFIX: prefix, ...env }
  const started = await Promise.allSettled([
    startShopProcess(kinds[0], shared),
    startShopProcess(kinds[1], shared),
  ])
  const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const failed = started.find((s) => s.status === 'rejected')
  if (failed !== undefined) {
    await Promise.all(running.map((p) => p.stop()))
    throw (failed as PromiseRejectedResult).reason
  }
  const [a, b] = running as [ShopProcess, ShopProcess]
  const agent = keepAliveAgent()
  return {
    a,
    b,
    agent,
    prefix,
    async stop() {
      agent.destroy()
      return Promise.all([a.stop(), b.stop()])
    },
  }
}

export async function originCalls(pair: Pair, proc: ShopProcess): Promise<number> {
  const reply = await send(pair.agent, proc.url, '/__origin/calls')
  if (reply.status !== 200) throw new Error(`GET /__origin/calls answered ${reply.status}`)
  return json<{ total: number }>(reply).total
}

export async function resetOrigin(pair: Pair, proc: ShopProcess): Promise<void> {
  const reply = await send(pair.agent, proc.url, '/__origin/reset', { method: 'POST' })
  if (reply.status !== 204) throw new Error(`POST /__origin/reset answered ${reply.status}`)
}

/** Something a process renders from its own data, that A writes and B reads. */
export interface Resource {
  /** For messages: `product 17`, `cart of u-3`. */
  readonly label: string
  readonly path: string
  /** Where A writes; `path` by default. */
  readonly writePath?: string
  readonly headers?: Record<string, string>
  readonly write: { method: 'PUT' | 'POST'; status: number; body: () => unknown }
  /** What tells one rendering from another (a version, and a cart's items). */
  identity(body: unknown): string
  /**
   * Whether a read's identity shows the write whose answer had identity
   * `written`. Default: they are equal (the write answers the new rendering).
   */
  shows?(read: string, written: string): boolean
  /** B's own rendering: B never writes, so its origin always answers this. */
  readonly ownOfB: string
}

export function product(id: number): Resource {
  return {
    label: `product ${id}`,
    path: `/products/${id}`,
    write: {
      method: 'PUT',
      status: 200,
      body: () => ({ price: Math.round(Math.random() * 100_000) / 100 }),
    },
    identity: (body) => `v${(body as { version: number }).version}`,
    ownOfB: 'v1',
  }
}

/**
 * The first page of `/products` (tag `products`), written through `PUT
 * /products/:id` of one product on it: the list's rendering is the versions of
 * its 20 products.
 */
export function productList(id: number): Resource {
  if (id < 1 || id > 20) throw new Error(`product ${id} is not on the first page`)
  return {
    label: `the first page of products (writing product ${id})`,
    path: '/products?page=1',
    writePath: `/products/${id}`,
    write: product(id).write,
    identity: (body) => {
      const page = body as { items?: Array<{ version: number }>; version?: number }
      // The write answers the product, the read answers the page.
      if (page.items === undefined) return `v${page.version}`
      return page.items.map((p) => p.version).join('.')
    },
    shows: (read, written) => `v${read.split('.')[id - 1]}` === written,
    ownOfB: Array.from({ length: 20 }, () => 1).join('.'),
  }
}

let skus = 0
export function cart(user: string): Resource {
  return {
    label: `cart of ${user}`,
    path: '/me/cart',
    headers: { authorization: `Bearer ${user}` },
    write: { method: 'POST', status: 201, body: () => ({ sku: `sku-${++skus}` }) },
    identity: (body) => {
      const c = body as { version: number; items: string[] }
      return `v${c.version}[${c.items.join(',')}]`
    },
    ownOfB: 'v0[]',
  }
}

export interface RoundOptions {
  /**
   * Retry a write that answers 503 (its invalidation could not be confirmed, for
   * instance while Redis is coming back) until it succeeds, for at most this long.
   * 0: a 503 is an anomaly.
   */
  retryWritesForMs?: number
  /**
   * A write that still answers 503 once its retries (if any) are over is an honest
   * refusal, not an anomaly: its invalidation could not be confirmed and the write says
   * so, which promises nothing. Counted in `write503` only; the round stops there. For
   * writes made while a fault is active. Default false (a 503 is a write failure).
   */
  refusalsAllowed?: boolean
  /** Deadline of each write request; a write with no answer by then rejects. Default 10 s. */
  writeTimeoutMs?: number
}

/** One write request of a round: its status and how long it took. */
export interface WriteAttempt {
  status: number
  ms: number
  /** When it was sent (`Date.now()`). */
  at: number
}

const MAX_DETAILS = 20

/**
 * The write-then-read rounds. One round on resource r:
 *
 *   1. write r on A
 *   2. read r on A                must show that write (read-your-writes in one
 *                                 process); its rendering X fills Redis
 *   3. read r on B                must be a HIT of X: B shares A's fill through Redis
 *   4. write r on A (timed)       A renders X' now; the copy of X that B and Redis
 *                                 hold was created before this write
 *   5. read r on B                STALE if it is X. Expected: B's own rendering (B's
 *                                 origin, MISS). Also counted: any HIT here, which can
 *                                 only be an entry stored before step 4 (no request
 *                                 reads r between 4 and 5).
 *
 * Step 1 makes sure the cached copy of step 3 is A's rendering, which neither B's
 * origin (ownOfB) nor A after step 4 (X') can produce: a previous round on r
 * leaves B's own rendering in Redis, which step 5 could not tell from a fresh one.
 */
export class Rounds {
  /** Steps 1-3 run (`share`). */
  rounds = 0
  /** Steps 4-5 run (`check`). */
  checks = 0
  /** Step 5 returned the pre-write copy X. */
  stale = 0
  /** Step 5 was served from a cache (HIT or STALE). */
  postWriteHits = 0
  /** Step 2 was not A's own latest rendering. */
  ownStale = 0
  /** Step 3 was not a HIT of X. */
  notShared = 0
  /** Writes that answered neither their success status nor (when retried) 503. */
  writeFailures = 0
  /** 503 answers to writes (retried when the options say so). */
  write503 = 0
  /** 5xx answers to reads. */
  read5xx = 0
  /** Step 5 returned a rendering that is neither X nor B's own. */
  unexpected = 0
  readonly details: string[] = []
  /** Durations of the timed writes (step 4). */
  readonly writeMs: number[] = []
  /** Durations of every successful write (steps 1 and 4). */
  readonly allWriteMs: number[] = []
  /** Every write request sent, retries included, in order. */
  readonly writeAttempts: WriteAttempt[] = []
  readonly readA = new Tally()
  readonly readB = new Tally()
  readonly afterWriteB = new Tally()

  constructor(
    private readonly pair: Pair,
    private readonly options: RoundOptions = {},
  ) {}

  #note(message: string): void {
    if (this.details.length < MAX_DETAILS) this.details.push(`round ${this.rounds}: ${message}`)
  }

  #request(proc: ShopProcess, r: Resource, extra: RequestOptions = {}): Promise<Reply> {
    return send(this.pair.agent, proc.url, r.path, { headers: { ...r.headers }, ...extra })
  }

  async #read(proc: ShopProcess, r: Resource, step: string): Promise<string | undefined> {
    const reply = await this.#request(proc, r)
    if (reply.status >= 500) this.read5xx++
    if (reply.status !== 200) {
      this.#note(`${step}: GET ${r.path} on ${proc.kind} answered ${reply.status}`)
      return undefined
    }
    return `${xCache(reply)} ${r.identity(json(reply))}`
  }

  /** Writes r on A; the identity of A's new rendering, or undefined when it failed. */
  async #write(r: Resource, step: string, timed: boolean): Promise<string | undefined> {
    const { a } = this.pair
    const deadline = Date.now() + (this.options.retryWritesForMs ?? 0)
    for (;;) {
      const at = Date.now()
      const reply = await send(this.pair.agent, a.url, r.writePath ?? r.path, {
        method: r.write.method,
        headers: { ...r.headers },
        body: r.write.body(),
        timeoutMs: this.options.writeTimeoutMs,
      })
      this.writeAttempts.push({ status: reply.status, ms: reply.ms, at })
      if (reply.status === r.write.status) {
        this.allWriteMs.push(reply.ms)
        if (timed) this.writeMs.push(reply.ms)
        return r.identity(json(reply))
      }
      if (reply.status === 503) {
        this.write503++
        if (Date.now() < deadline) {
          await sleep(50)
          continue
        }
        if (this.options.refusalsAllowed) return undefined
      } else {
        this.writeFailures++
      }
      this.#note(`${step}: ${r.write.method} ${r.path} on A answered ${reply.status} ${reply.text}`)
      if (reply.status === 503) this.writeFailures++
      return undefined
    }
  }

  async round(r: Resource): Promise<void> {
    const x = await this.share(r)
    if (x !== undefined) await this.check(r, x)
  }

  /** Steps 1 to 3; the rendering X that A and B now hold, or undefined when a step failed. */
  async share(r: Resource): Promise<string | undefined> {
    const { a, b } = this.pair
    this.rounds++
    const written = await this.#write(r, '1 (write on A)', false)
    if (written === undefined) return undefined

    const readA = await this.#read(a, r, '2 (read on A)')
    if (readA === undefined) return undefined
    const [cacheA, x] = readA.split(' ') as [string, string]
    this.readA.add(cacheA)
    if (!(r.shows ?? Object.is)(x, written)) {
      this.ownStale++
      this.#note(`2: A read ${r.label} as ${x} (${cacheA}) right after writing ${written}`)
    }

    const readB = await this.#read(b, r, '3 (read on B)')
    if (readB === undefined) return undefined
    const [cacheB, idB] = readB.split(' ') as [string, string]
    this.readB.add(cacheB)
    if (cacheB !== 'HIT' || idB !== x) {
      this.notShared++
      this.#note(`3: B read ${r.label} as ${idB} (${cacheB}); A's fill was ${x}`)
    }
    return x
  }

  /**
   * Steps 4 and 5, for a resource whose cached copy is X. `during` runs
   * alongside the write (a fault injected while it is being published).
   */
  async check(r: Resource, x: string, during?: () => Promise<unknown>): Promise<void> {
    this.checks++
    const side = during?.()
    const x2 = await this.#write(r, '4 (write on A)', true)
    await side
    if (x2 === undefined) return

    const after = await this.#read(this.pair.b, r, '5 (read on B)')
    if (after === undefined) return
    const [cacheAfter, idAfter] = after.split(' ') as [string, string]
    this.afterWriteB.add(cacheAfter)
    if (idAfter === x) {
      this.stale++
      this.#note(`5: STALE: B read ${r.label} as ${idAfter} (${cacheAfter}) after A wrote ${x2}`)
    } else if (idAfter !== r.ownOfB) {
      this.unexpected++
      this.#note(`5: B read ${r.label} as ${idAfter} (${cacheAfter}); expected ${r.ownOfB}`)
    }
    if (cacheAfter === 'HIT' || cacheAfter === 'STALE') {
      this.postWriteHits++
      if (idAfter !== x)
        this.#note(`5: B served ${r.label} from a cache (${cacheAfter}) after A's write`)
    }
  }

  /** The figures of a run, on one line. */
  summary(label: string, seed?: number): string {
    const q = (p: number) => quantile(this.writeMs, p).toFixed(1)
    const qa = (p: number) => quantile(this.allWriteMs, p).toFixed(1)
    return [
      `${label}:`,
      `rounds=${this.rounds}`,
      `checks=${this.checks}`,
      `stale=${this.stale}`,
      `postWriteHits=${this.postWriteHits}`,
      `ownStale=${this.ownStale}`,
      `notShared=${this.notShared}`,
      `unexpected=${this.unexpected}`,
      `write503=${this.write503}`,
      `writeFailures=${this.writeFailures}`,
      `read5xx=${this.read5xx}`,
      `| X-Cache A-read {${this.readA}} B-read {${this.readB}} B-after-write {${this.afterWriteB}}`,
      `| write ms (timed, n=${this.writeMs.length}) p50=${q(0.5)} p99=${q(0.99)} max=${q(1)}`,
      `(all, n=${this.allWriteMs.length}) p50=${qa(0.5)} p99=${qa(0.99)}`,
      seed === undefined ? '' : `| seed=${seed}`,
    ]
      .filter(Boolean)
      .join(' ')
  }

  /** The counters that must be zero (`notShared` too when `shared`), with the details when any is not. */
  violations(shared: boolean): { counts: Record<string, number>; details: string[] } {
    const all: Record<string, number> = {
      stale: this.stale,
      postWriteHits: this.postWriteHits,
      ownStale: this.ownStale,
      read5xx: this.read5xx,
      writeFailures: this.writeFailures,
      unexpected: this.unexpected,
    }
    if (shared) all.notShared = this.notShared
    const counts = Object.fromEntries(Object.entries(all).filter(([, n]) => n !== 0))
    return { counts, details: Object.keys(counts).length > 0 ? this.details : [] }
  }
}
