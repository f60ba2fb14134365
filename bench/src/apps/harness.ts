import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { CacheEngine, CompiledCacheRule, Exchange, RuleMatch } from '@cachet/core/adapter'
import {
  type AppConfig,
  FLOOD_BODY_BYTES,
  jsonPayload,
  SIZES,
  SLOW_ORIGIN_MS,
  SMALL_BODY_BYTES,
} from '../shared'

// What every app process shares: its configuration, the origin (bodies and call
// counters), cachet's options, and a control server on a port of its own (so
// that the measured server handles nothing but the measured routes).

export { cachetOptions, cachetRules } from './cachet-options'

export function readConfig(): AppConfig {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error('usage: node <app>.js <json AppConfig>')
  return JSON.parse(raw) as AppConfig
}

const PAYLOADS: Record<string, Buffer> = {
  '2k': jsonPayload(SIZES['2k']),
  '100k': jsonPayload(SIZES['100k']),
}
const SMALL = jsonPayload(SMALL_BODY_BYTES)
const FLOOD_TEMPLATE = jsonPayload(FLOOD_BODY_BYTES)

/** Route executions, by route name, and of `/slow/:id` by id. */
export const calls = {
  byRoute: new Map<string, number>(),
  slow: new Map<string, number>(),
}

function count(route: string): void {
  calls.byRoute.set(route, (calls.byRoute.get(route) ?? 0) + 1)
}

/**
 * The origin of a bench route: the body to send (the same precomputed buffer
 * each time, but a fresh copy for `/flood`), or `undefined` for an unknown
 * route. `/slow` is answered by `slow()`.
 */
export function originBody(route: string, arg: string): Buffer | undefined {
  switch (route) {
    case 'data':
    case 'miss':
    case 'other':
      count(route)
      return PAYLOADS[arg]
    case 'items':
      count(route)
      return PAYLOADS['2k']
    case 'tagged':
    case 'small':
      count(route)
      return SMALL
    case 'flood':
      count(route)
      observeL1()
      return Buffer.from(FLOOD_TEMPLATE)
    default:
      return undefined
  }
}

/**
 * The `bound` app's first middleware: answers `/data/:size` with the
 * precomputed body and headers in one `writeHead` + `end`, as a cache hit
 * written by a middleware at its cheapest would; false for any other URL.
 */
export function boundResponse(req: IncomingMessage, res: ServerResponse): boolean {
  const m = /^\/data\/(2k|100k)$/.exec(req.url ?? '')
  if (!m) return false
  const size = m[1] as string
  const body = originBody('data', size) as Buffer
  res.writeHead(200, BOUND_HEADERS[size])
  res.end(body)
  return true
}

const BOUND_HEADERS: Record<string, Record<string, string>> = Object.fromEntries(
  Object.entries(PAYLOADS).map(([size, body]) => [
    size,
    {
      'content-type': 'application/json',
      'content-length': String(body.length),
      etag: `"${body.length.toString(16)}-bound"`,
    },
  ]),
)

/** `/slow/:id`: counts the call, then answers after 100 ms. */
export function slow(id: string): Promise<Buffer> {
  count('slow')
  calls.slow.set(id, (calls.slow.get(id) ?? 0) + 1)
  return new Promise((resolve) => setTimeout(() => resolve(SMALL), SLOW_ORIGIN_MS))
}

// ---------------------------------------------------------------------------
// cachet

let engine: CacheEngine | undefined
let invalidate: ((tags: string[]) => Promise<unknown>) | undefined
let maxL1BytesSeen = 0

/** The largest memory-tier size seen at any origin call of `/flood` (and at each stats read). */
function observeL1(): void {
  const bytes = engine?.l1?.bytes ?? 0
  if (bytes > maxL1BytesSeen) maxL1BytesSeen = bytes
}

export function attachCachet(
  e: CacheEngine,
  inv: (target: { tags: string[] }) => Promise<unknown>,
): void {
  engine = e
  invalidate = (tags) => inv({ tags })
}

/**
 * Fills `count` entries for `/<route>/<i>` straight through the engine, as an
 * adapter would drive a miss (`lookup`, then the fill's `onHeaders`, `onChunk`,
 * `onEnd`), `concurrency` at a time. With a shared tier each fill is awaited
 * until it is stored there (a second lookup waits on the first one's flight).
 */
async function prefill(route: string, count: number, concurrency: number): Promise<number> {
  const e = engine
  if (e === undefined) throw new Error('prefill needs a cachet app')
  const body = route === 'items' ? (PAYLOADS['2k'] as Buffer) : SMALL
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) }
  let next = 0
  let stored = 0
  const worker = async () => {
    while (next < count) {
      const path = `/${route}/${next++}`
      const m = e.match('GET', path)
      if (m === undefined || m.rule.kind !== 'cache') throw new Error(`no cache rule for ${path}`)
      const match = m as RuleMatch<CompiledCacheRule>
      const ex: Exchange = { method: 'GET', path, rawQuery: '', headers: {}, user: undefined }
      const found = e.lookup(match, ex)
      const l = found instanceof Promise ? await found : found
      if (l.type === 'hit') {
        stored++
        continue
      }
      if (l.type !== 'miss') throw new Error(`prefill ${path}: ${l.type}`)
      l.fill.onHeaders(200, headers)
      l.fill.onChunk(body)
      l.fill.onEnd()
      const again = e.lookup(match, ex)
      const after = again instanceof Promise ? await again : again
      if (after.type === 'hit') stored++
      else if (after.type === 'miss') after.fill.onAbort()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return stored
}

// ---------------------------------------------------------------------------
// The control server

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': text.length })
  res.end(text)
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

function summarize(durations: number[]) {
  const sorted = [...durations].sort((a, b) => a - b)
  return {
    count: sorted.length,
    medianMs: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function control(url: URL): Promise<unknown> {
  const q = url.searchParams
  switch (url.pathname) {
    case '/stats': {
      observeL1()
      const mem = process.memoryUsage()
      return {
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        external: mem.external,
        arrayBuffers: mem.arrayBuffers,
        l1: engine?.l1
          ? {
              bytes: engine.l1.bytes,
              size: engine.l1.size,
              evictions: engine.l1.evictions,
              maxBytes: engine.l1.maxBytes,
            }
          : null,
        maxL1BytesSeen,
        calls: Object.fromEntries(calls.byRoute),
      }
    }
    case '/slow-calls':
      return { calls: calls.slow.get(q.get('id') ?? '') ?? 0 }
    case '/prefill': {
      const started = performance.now()
      const n = Number(q.get('count'))
      const stored = await prefill(q.get('route') ?? '', n, Number(q.get('concurrency') ?? 64))
      return { ms: performance.now() - started, count: n, stored, l1Size: engine?.l1?.size }
    }
    case '/invalidate': {
      // `n` sequential invalidations of `tag`; their durations.
      const inv = invalidate
      if (inv === undefined) throw new Error('invalidate needs a cachet app')
      const tag = q.get('tag') ?? ''
      const durations: number[] = []
      for (let i = 0; i < Number(q.get('n') ?? 1); i++) {
        const t0 = performance.now()
        await inv([tag])
        durations.push(performance.now() - t0)
      }
      return { ...summarize(durations), firstMs: durations[0] }
    }
    case '/invalidate-loop': {
      // Invalidates `tag` every `every` ms (one after the other) for `ms`.
      const inv = invalidate
      if (inv === undefined) throw new Error('invalidate needs a cachet app')
      const tag = q.get('tag') ?? ''
      const every = Number(q.get('every') ?? 10)
      const until = performance.now() + Number(q.get('ms') ?? 1000)
      const durations: number[] = []
      while (performance.now() < until) {
        const t0 = performance.now()
        await inv([tag])
        const took = performance.now() - t0
        durations.push(took)
        if (took < every) await sleep(every - took)
      }
      return summarize(durations)
    }
    default:
      throw new Error(`unknown control path ${url.pathname}`)
  }
}

function startControl(): Promise<number> {
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    control(url).then(
      (body) => json(res, 200, body),
      (err: Error) => json(res, 500, { error: err.message }),
    )
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

/**
 * Listens on 127.0.0.1 (PORT, default any free port), starts the control
 * server, prints `ready port=<p> control=<c>`, and exits cleanly on SIGTERM
 * or SIGINT (so that `--cpu-prof` writes its profile).
 */
export async function serve(
  handler: http.RequestListener,
  close: () => Promise<void> = async () => {},
): Promise<void> {
  const server = http.createServer(handler)
  server.keepAliveTimeout = 65_000
  const port = await new Promise<number>((resolve) => {
    server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
      resolve((server.address() as AddressInfo).port),
    )
  })
  const controlPort = await startControl()
  const stop = () => {
    server.closeAllConnections()
    const timer = setTimeout(() => process.exit(0), 1000)
    close()
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer)
        process.exit(0)
      })
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  process.stdout.write(`ready port=${port} control=${controlPort}\n`)
}
