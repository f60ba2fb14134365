import { performance } from 'node:perf_hooks'
import { keepAliveAgent, quantile, RequestTimeout, send, xCache } from '../../cluster/http'

// A bounded concurrent HTTP load driver for fault-injection tests: `concurrency`
// workers send requests (keep-alive, one agent per run, destroyed at the end) to
// one or more base URLs until the first of: `maxRequests` sent, `durationMs`
// elapsed, `until` settled, `stopWhen` true. Requests still open then are given
// `drainMs` to finish; what is left is cut (agent destroyed) and counted as
// `cancelled`. So runLoad resolves within durationMs + min(drainMs, timeoutMs) +
// a little, whatever the servers do.
//
// Every request sent is counted exactly once:
//   requests = Σ byStatus + connectionErrors + timeouts + cancelled

export interface LoadRequest {
  path: string
  headers?: Record<string, string>
  method?: 'GET' | 'PUT' | 'POST'
  /** Sent as JSON. */
  body?: unknown
  /** Index into `targets`; default `i % targets.length`. */
  target?: number
}

export interface LoadProgress {
  /** Requests sent so far. */
  readonly sent: number
  /** Requests settled so far (a status, a connection error or a timeout). */
  readonly settled: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly byXCache: Readonly<Record<string, number>>
  readonly connectionErrors: number
  readonly timeouts: number
  readonly elapsedMs: number
}

export interface LoadOptions {
  /** Base URLs (`http://127.0.0.1:PORT`); request i goes to targets[i % n] unless it says otherwise. */
  targets: string[]
  /** Paths used round-robin, or a function of the request's index. */
  paths: string[] | ((i: number) => LoadRequest)
  /** Requests in flight at once. Default 20. */
  concurrency?: number
  /** No request is sent after this many ms from the start (hard bound). */
  durationMs: number
  /** At most this many requests are sent (hard bound). */
  maxRequests: number
  /** Per-request deadline; a request still open then is a timeout. Default 5000. */
  timeoutMs?: number
  /** Once the load stops, how long open requests may still take before they are cut. Default timeoutMs. */
  drainMs?: number
  /** Stop sending once this settles (resolved or rejected). */
  until?: Promise<unknown>
  /** Checked after each settled request: true stops sending. */
  stopWhen?: (progress: LoadProgress) => boolean
  /** How many error messages to keep. Default 10. */
  maxErrors?: number
  /** Keep the first few requests (maxErrors) that took longer than this, for diagnosis. Default: none kept. */
  slowMs?: number
}

/** A request that took longer than `slowMs`. */
export interface SlowRequest {
  /** `GET /products/1 on http://127.0.0.1:PORT`. */
  request: string
  status: number
  xCache: string
  ms: number
  /** When it was sent, in ms from the start of the run. */
  sentAtMs: number
}

export type LoadStop = 'maxRequests' | 'duration' | 'until' | 'stopWhen'

export interface LoadResult {
  /** Requests sent. */
  requests: number
  /** Answers by HTTP status (`"200": 17`). */
  byStatus: Record<string, number>
  /** Requests that failed without an answer (refused, reset, socket hang up, ...). */
  connectionErrors: number
  /** Requests with no complete answer within timeoutMs. */
  timeouts: number
  /** Requests still open when the drain time ran out, cut by the driver. */
  cancelled: number
  /** Latency percentiles (ms) over the requests that got an answer (any status); NaN when none did. */
  p50: number
  p99: number
  max: number
  /** Answers by their X-Cache header (`-` when absent). */
  byXCache: Record<string, number>
  /** The first few error messages (connection errors and timeouts). */
  errors: string[]
  /** The first few requests slower than `slowMs` (empty without it). */
  slow: SlowRequest[]
  /** Why sending stopped. */
  stoppedBy: LoadStop
  /** From the start to the end of runLoad. */
  elapsedMs: number
}

/** Slack on top of timeoutMs for a request whose own deadline somehow did not fire. */
const HARD_SLACK_MS = 2000

function pick(opts: LoadOptions, i: number): { base: string; req: LoadRequest } {
  const { targets, paths } = opts
  let req: LoadRequest
  if (typeof paths === 'function') {
    req = paths(i)
  } else {
    req = { path: paths[i % paths.length] as string }
  }
  const t = req.target ?? i % targets.length
  const base = targets[t]
  if (base === undefined)
    throw new Error(`runLoad: request ${i} names target ${t} of ${targets.length}`)
  return { base, req }
}

function isTimeout(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | undefined)?.cause
  return cause instanceof RequestTimeout || err instanceof RequestTimeout
}

/** Runs the load and resolves with its counts; never rejects because of a server's behaviour. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const concurrency = opts.concurrency ?? 20
  const timeoutMs = opts.timeoutMs ?? 5000
  const drainMs = Math.min(opts.drainMs ?? timeoutMs, timeoutMs)
  const maxErrors = opts.maxErrors ?? 10
  if (opts.targets.length === 0) throw new Error('runLoad: no targets')
  if (Array.isArray(opts.paths) && opts.paths.length === 0) throw new Error('runLoad: no paths')
  if (!(concurrency >= 1)) throw new Error(`runLoad: bad concurrency ${concurrency}`)
  if (!(opts.durationMs >= 0) || !(opts.maxRequests >= 0)) {
    throw new Error('runLoad: durationMs and maxRequests must be numbers ≥ 0')
  }

  const agent = keepAliveAgent()
  const started = performance.now()
  const byStatus: Record<string, number> = {}
  const byXCache: Record<string, number> = {}
  const latencies: number[] = []
  const errors: string[] = []
  const slow: SlowRequest[] = []
  let sent = 0
  let settled = 0
  let connectionErrors = 0
  let timeouts = 0
  let cancelled = 0
  let cutting = false
  let stoppedBy: LoadStop | undefined

  let wake: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    wake = resolve
  })
  const stop = (why: LoadStop) => {
    if (stoppedBy !== undefined) return
    stoppedBy = why
    wake()
  }
  const durationTimer = setTimeout(() => stop('duration'), opts.durationMs)
  opts.until?.then(
    () => stop('until'),
    () => stop('until'),
  )

  const note = (message: string) => {
    if (errors.length < maxErrors) errors.push(message)
  }
  const progress = (): LoadProgress => ({
    sent,
    settled,
    byStatus,
    byXCache,
    connectionErrors,
    timeouts,
    elapsedMs: performance.now() - started,
  })

  const one = async (i: number): Promise<void> => {
    const { base, req } = pick(opts, i)
    const sentAtMs = performance.now() - started
    let hardTimer: NodeJS.Timeout | undefined
    const hard = new Promise<'hard'>((resolve) => {
      hardTimer = setTimeout(() => resolve('hard'), timeoutMs + HARD_SLACK_MS)
    })
    try {
      const reply = await Promise.race([
        send(agent, base, req.path, {
          method: req.method ?? 'GET',
          headers: req.headers ?? {},
          body: req.body,
          timeoutMs,
        }),
        hard,
      ])
      if (reply === 'hard') {
        timeouts++
        note(`${req.path} on ${base}: no outcome within ${timeoutMs + HARD_SLACK_MS} ms`)
      } else {
        const status = String(reply.status)
        byStatus[status] = (byStatus[status] ?? 0) + 1
        const cache = xCache(reply)
        byXCache[cache] = (byXCache[cache] ?? 0) + 1
        latencies.push(reply.ms)
        if (opts.slowMs !== undefined && reply.ms > opts.slowMs && slow.length < maxErrors) {
          slow.push({
            request: `${req.method ?? 'GET'} ${req.path} on ${base}`,
            status: reply.status,
            xCache: cache,
            ms: reply.ms,
            sentAtMs,
          })
        }
      }
    } catch (err) {
      const message = (err as Error).message
      if (cutting) cancelled++
      else if (isTimeout(err)) {
        timeouts++
        note(message)
      } else {
        connectionErrors++
        note(message)
      }
    } finally {
      clearTimeout(hardTimer)
      settled++
    }
    if (opts.stopWhen?.(progress())) stop('stopWhen')
  }

  let fatal: unknown
  const worker = async (): Promise<void> => {
    // Each pass sends one request; `sent` only grows and is capped by maxRequests,
    // and the duration timer stops the loop: bounded in count and in time.
    try {
      while (stoppedBy === undefined) {
        if (sent >= opts.maxRequests) {
          stop('maxRequests')
          break
        }
        const i = sent++
        await one(i)
      }
    } catch (err) {
      // A bad `paths` function or a throwing stopWhen: stop everything, rethrow below.
      fatal ??= err
      stop('stopWhen')
    }
  }

  if (opts.maxRequests === 0) stop('maxRequests')
  const workers = Promise.all(Array.from({ length: concurrency }, () => worker()))

  // Wait for the stop, then at most drainMs for the open requests; then cut them.
  await stopped
  clearTimeout(durationTimer)
  let drainTimer: NodeJS.Timeout | undefined
  const drained = await Promise.race([
    workers.then(() => true),
    new Promise<boolean>((resolve) => {
      drainTimer = setTimeout(() => resolve(false), drainMs)
    }),
  ])
  clearTimeout(drainTimer)
  if (!drained) {
    cutting = true
    agent.destroy()
    await workers // every open request settles on its destroyed socket, or at its hard bound
  }
  agent.destroy()
  if (fatal !== undefined) throw fatal

  return {
    requests: sent,
    byStatus,
    connectionErrors,
    timeouts,
    cancelled,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.length > 0 ? Math.max(...latencies) : Number.NaN,
    byXCache,
    errors,
    slow,
    stoppedBy: stoppedBy ?? 'maxRequests',
    elapsedMs: performance.now() - started,
  }
}

/** The result on one line, for logs: `requests=120 200=100 503=20 connErr=0 timeouts=0 ...`. */
export function loadSummary(r: LoadResult): string {
  const counts = (rec: Record<string, number>) =>
    Object.entries(rec)
      .map(([k, n]) => `${k}=${n}`)
      .join(',') || 'none'
  return [
    `requests=${r.requests}`,
    `status{${counts(r.byStatus)}}`,
    `x-cache{${counts(r.byXCache)}}`,
    `connErrors=${r.connectionErrors}`,
    `timeouts=${r.timeouts}`,
    `cancelled=${r.cancelled}`,
    `p50=${r.p50.toFixed(1)}ms p99=${r.p99.toFixed(1)}ms max=${r.max.toFixed(1)}ms`,
    `stoppedBy=${r.stoppedBy}`,
    `elapsed=${r.elapsedMs.toFixed(0)}ms`,
  ].join(' ')
}
