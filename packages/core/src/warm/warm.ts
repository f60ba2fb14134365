import type { IncomingHttpHeaders, RequestListener } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { CacheEngine } from '../engine/engine'
import { splitUrl } from '../engine/exchange'
import { internalExchange } from '../engine/internal-request'
import { CachetConfigError, describeValue } from '../errors'
import type { WarmProgress } from '../observe/events'
import { parseDuration } from '../options/units'

/** The most URLs one `warm()` call takes (after removing duplicates). */
export const MAX_WARM_URLS = 10_000
/** The most requests one `warm()` call runs at once. */
export const MAX_WARM_CONCURRENCY = 64
/** The longest URL (path and query) a warm-up sends. */
export const MAX_WARM_URL_LENGTH = 8192
/** Problems kept in a summary (the counts are complete). */
const PROBLEMS_KEPT = 20

/** What to warm: URLs (`/path?query`, or absolute `http(s)://` URLs), or the `top` most requested. */
export type WarmInput =
  | readonly string[]
  | { readonly urls?: readonly string[]; readonly top?: number }

export interface WarmOptions {
  /** Requests at once. Default 4, at most 64. */
  concurrency?: number
  /**
   * The app's request listener (`app` for Express, `app.callback()` for
   * Koa). Default: the one the cache middleware saw on its first request —
   * give it explicitly to warm before any request came in (at start-up).
   */
  listener?: RequestListener
  /**
   * Headers sent with every request (`host`, `accept-language`...: whatever
   * the rules' keys name). A warm-up request is anonymous: with
   * `authorization` or `cookie` the cache bypasses it, as for a client.
   */
  headers?: IncomingHttpHeaders
  /** Longest time one request may take; it then counts as failed. Default `'10s'`. */
  timeout?: number | string
  /** Called after each request, like the engine's `warm` event. */
  onProgress?: (progress: WarmProgress) => void
}

// Declared beside the engine's other events (events.ts needs it): warm/
// imports the engine, never the other way round.
export type { WarmProgress }

export interface WarmSummary {
  /** URLs requested (skipped ones not included). */
  total: number
  /** Answered from the cache or filled: `X-Cache` HIT, STALE or MISS with a status below 500. */
  ok: number
  /** Timed out, failed (5xx), or not stored (`X-Cache: BYPASS`). */
  failed: number
  /** Not requested: not a URL, no GET cache rule matches it, or its rule is per-user. */
  skipped: number
  /** Already cached (HIT or STALE). */
  hits: number
  /** Filled from the origin (MISS). */
  misses: number
  ms: number
  /** The first few URLs that failed or were skipped, and why. */
  problems: Array<{ url: string; reason: string }>
}

type ListenerSource = () => RequestListener | undefined
const listeners = new WeakMap<CacheEngine, ListenerSource>()

/** Lets `warm()` find the app: adapters register how to reach the listener they saw. */
export function registerListener(engine: CacheEngine, source: ListenerSource): void {
  listeners.set(engine, source)
}

function fail(option: string, problem: string): never {
  throw new CachetConfigError('CACHET_INVALID_OPTION', `warm(): "${option}": ${problem}`)
}

function wholeNumber(option: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max)
    fail(option, `expected a whole number from 1 to ${max}, got ${describeValue(value)}`)
  return value as number
}

/** The URLs to warm, without duplicates. */
function urlsOf(engine: CacheEngine, input: WarmInput): string[] {
  if (typeof input !== 'object' || input === null)
    fail('urls', `expected an array of URLs or { urls?, top? }, got ${describeValue(input)}`)
  const { urls, top } = Array.isArray(input)
    ? { urls: input as readonly string[], top: undefined }
    : (input as { urls?: readonly string[]; top?: number })
  if (urls !== undefined && !Array.isArray(urls))
    fail('urls', `expected an array of strings, got ${describeValue(urls)}`)
  if (urls === undefined && top === undefined)
    fail('urls', 'nothing to warm: give urls, or { top: n }')
  const all = new Set<string>()
  for (const url of urls ?? []) {
    if (typeof url !== 'string') fail('urls', `expected strings, got ${describeValue(url)}`)
    all.add(url)
  }
  if (top !== undefined) {
    const n = wholeNumber('top', top, 0, MAX_WARM_URLS)
    for (const t of engine.topUrls(n)) all.add(t.url)
  }
  if (all.size > MAX_WARM_URLS)
    fail('urls', `expected at most ${MAX_WARM_URLS} URLs per call, got ${all.size}`)
  return [...all]
}

/** The request target for `url`, or why it is skipped. */
function target(engine: CacheEngine, url: string): { url: string } | { reason: string } {
  let path = url
  if (/^https?:\/\//i.test(url)) {
    try {
      const u = new URL(url)
      path = `${u.pathname}${u.search}`
    } catch {
      return { reason: 'not a URL' }
    }
  }
  if (
    !path.startsWith('/') ||
    path.length > MAX_WARM_URL_LENGTH ||
    /[^!-~\u0080-\uffff]/.test(path)
  )
    return { reason: 'not a path starting with "/"' }
  const m = engine.match('GET', splitUrl(path).path)
  if (m === undefined || m.rule.kind !== 'cache') return { reason: 'no GET cache rule matches' }
  if (m.rule.perUser) return { reason: `rule ${m.rule.name} is per-user` }
  return { url: path }
}

/**
 * Fetches each URL through the app as an internal GET (the app's middleware
 * and routes run as for a client; the responses go nowhere), `concurrency`
 * at a time, so that the cache answers or fills each one. Resolves once the
 * fills are stored, with what happened; never rejects for a URL, only for
 * bad arguments or when the app's listener is unknown.
 */
export async function warmCache(
  engine: CacheEngine,
  input: WarmInput,
  options: WarmOptions = {},
): Promise<WarmSummary> {
  if (typeof options !== 'object' || options === null)
    fail('options', `expected an object, got ${describeValue(options)}`)
  const concurrency = wholeNumber('concurrency', options.concurrency, 4, MAX_WARM_CONCURRENCY)
  const timeoutMs = parseDuration(options.timeout ?? '10s')
  if (typeof timeoutMs === 'string') fail('timeout', timeoutMs)
  if (timeoutMs < 1 || timeoutMs > 600_000)
    fail('timeout', `expected 1 ms to 10 minutes, got ${timeoutMs} ms`)
  const headers = options.headers ?? {}
  if (typeof headers !== 'object' || headers === null)
    fail('headers', `expected an object, got ${describeValue(headers)}`)
  const started = performance.now()
  const summary: WarmSummary = {
    total: 0,
    ok: 0,
    failed: 0,
    skipped: 0,
    hits: 0,
    misses: 0,
    ms: 0,
    problems: [],
  }
  const problem = (url: string, reason: string) => {
    if (summary.problems.length < PROBLEMS_KEPT) summary.problems.push({ url, reason })
  }
  const queue: string[] = []
  for (const url of urlsOf(engine, input)) {
    const t = target(engine, url)
    if ('reason' in t) {
      summary.skipped++
      problem(url, t.reason)
    } else queue.push(t.url)
  }
  summary.total = queue.length
  const listener = options.listener ?? listeners.get(engine)?.()
  if (typeof listener !== 'function') {
    fail(
      'listener',
      "the app's request listener is not known yet: pass { listener: app } (Express) or { listener: app.callback() } (Koa), or warm after the first request",
    )
  }
  let done = 0
  const report = () => {
    const progress: WarmProgress = {
      done,
      total: summary.total,
      ok: summary.ok,
      failed: summary.failed,
    }
    if (engine.listenerCount('warm') > 0) engine.emit('warm', progress)
    options.onProgress?.(progress)
  }
  let next = 0
  const worker = async () => {
    while (next < queue.length) {
      const url = queue[next++] as string
      const r = await internalExchange(listener, { url, headers, mode: 'plain' }, timeoutMs)
      const outcome = (r.headers['x-cache'] ?? '').toUpperCase()
      if (r.status === 0) {
        summary.failed++
        problem(url, `no answer within ${timeoutMs} ms`)
      } else if (r.status >= 500) {
        summary.failed++
        problem(url, `status ${r.status}`)
      } else if (outcome === 'HIT' || outcome === 'STALE') {
        summary.ok++
        summary.hits++
      } else if (outcome === 'MISS') {
        summary.ok++
        summary.misses++
      } else {
        summary.failed++
        problem(url, `not stored (status ${r.status}, X-Cache ${outcome || 'absent'})`)
      }
      done++
      report()
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker))
  // A fill's answer can finish before its entry is stored (the shared tier's
  // write comes first): the summary means "stored".
  await engine.settled()
  summary.ms = Math.round(performance.now() - started)
  return summary
}
