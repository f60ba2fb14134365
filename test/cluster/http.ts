import http, { type IncomingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'

// A small HTTP client for the multi-process tests: keep-alive sockets (one agent
// per test file, destroyed in afterAll), JSON in and out, a deadline per request
// and its duration.

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  text: string
  /** Milliseconds from sending the request to the end of the response body. */
  ms: number
}

export interface RequestOptions {
  method?: 'GET' | 'PUT' | 'POST'
  headers?: Record<string, string>
  /** Sent as JSON. */
  body?: unknown
  /** Default 10 s: a request that takes longer rejects (a hang is a failure, not a wait). */
  timeoutMs?: number
}

/** What send() destroys a request with when its deadline passes (the `cause` of its rejection). */
export class RequestTimeout extends Error {
  override name = 'RequestTimeout'
}

export function keepAliveAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
}

export function send(
  agent: http.Agent,
  base: string,
  path: string,
  options: RequestOptions = {},
): Promise<Reply> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = { ...options.headers }
  let payload: Buffer | undefined
  if (options.body !== undefined) {
    payload = Buffer.from(JSON.stringify(options.body))
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(payload.length)
  }
  const timeoutMs = options.timeoutMs ?? 10_000
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', fail)
      res.on('end', () => {
        clearTimeout(timer)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - started,
        })
      })
    })
    const timer = setTimeout(() => {
      req.destroy(
        new RequestTimeout(`${method} ${base}${path}: no complete answer within ${timeoutMs} ms`),
      )
    }, timeoutMs)
    function fail(err: Error) {
      clearTimeout(timer)
      reject(new Error(`${method} ${base}${path}: ${err.message}`, { cause: err }))
    }
    req.on('error', fail)
    req.end(payload)
  })
}

export function json<T>(reply: Reply): T {
  try {
    return JSON.parse(reply.text) as T
  } catch {
    throw new Error(`expected a JSON body, got ${reply.status} ${reply.text.slice(0, 200)}`)
  }
}

/** The `X-Cache` header, or `-` when absent. */
export function xCache(reply: Reply): string {
  const value = reply.headers['x-cache']
  return typeof value === 'string' ? value : '-'
}

/** Counts of values, for one-line summaries: `{ HIT: 3, MISS: 1 }`. */
export class Tally {
  readonly counts: Record<string, number> = {}
  add(value: string): void {
    this.counts[value] = (this.counts[value] ?? 0) + 1
  }
  toString(): string {
    const parts = Object.entries(this.counts).map(([k, n]) => `${k}=${n}`)
    return parts.length > 0 ? parts.join(',') : 'none'
  }
}

/** The `q` quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}

export function ms(value: number): string {
  return `${value.toFixed(1)}ms`
}

/** A seeded PRNG (mulberry32), so a failing run's choices can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
