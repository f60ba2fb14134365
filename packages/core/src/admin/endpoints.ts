import type { IncomingHttpHeaders } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { CacheEngine } from '../engine/engine'
import { CachetInvalidationError, isCachetError } from '../errors'
import { normalizeTarget } from '../invalidation/target'
import type { CacheStats, Explanation, InvalidationRecord } from '../observe/events'

// The admin API's operations, each a function of the engine and the parsed
// request, answering a status and a JSON value. No HTTP framework here.

export interface JsonAnswer {
  status: number
  body: unknown
  headers?: Record<string, string>
}

/** `GET /stats`: the engine's counters, its recent invalidations, and when and where they were read. */
export interface AdminStats {
  /** When the snapshot was taken (ms since the epoch). */
  at: number
  /** The process answering: every process of a cluster has its own counters. */
  pid: number
  uptimeSeconds: number
  stats: CacheStats
  /** Oldest first, at most 50. */
  recentInvalidations: readonly InvalidationRecord[]
}

export function stats(engine: CacheEngine): JsonAnswer {
  const body: AdminStats = {
    at: Date.now(),
    pid: process.pid,
    uptimeSeconds: Math.round(process.uptime()),
    stats: engine.stats(),
    recentInvalidations: engine.recentInvalidations(),
  }
  return { status: 200, body }
}

/**
 * `POST /invalidate` answers `{ ok: true, by, tags, patterns, users, ms }` once
 * it is done everywhere; 202 `{ ok: false, deferred: true, ... }` when it was
 * deferred (`onInvalidationFailure: 'defer'`); 503 when it could not be confirmed.
 */
export async function invalidate(
  engine: CacheEngine,
  body: unknown,
  by: string,
): Promise<JsonAnswer> {
  let target: ReturnType<typeof normalizeTarget>
  try {
    target = normalizeTarget(body)
  } catch (err) {
    if (!(err instanceof CachetInvalidationError)) throw err
    return badRequest(err.field ?? 'target', err.message)
  }
  const { expire, ...what } = target
  const echo = { ...what, mode: expire === true ? 'expire' : 'delete' }
  const started = performance.now()
  let deferred = false
  try {
    const record = await engine.invalidate(body as Parameters<CacheEngine['invalidate']>[0], {
      by,
    })
    deferred = record.deferred
  } catch (err) {
    const ms = elapsed(started)
    if (isCachetError(err) && err.code === 'CACHET_INVALID_INVALIDATION') {
      return badRequest((err as CachetInvalidationError).field ?? 'target', err.message)
    }
    // The local part is done and a retry is harmless; what is missing is the
    // shared tier's confirmation that every process will honour it.
    return {
      status: 503,
      headers: { 'Retry-After': '1' },
      body: {
        ok: false,
        error: `the invalidation could not be confirmed: ${(err as Error).message}`,
        by,
        ...echo,
        ms,
      },
    }
  }
  // `onInvalidationFailure: 'defer'`: applied in this process, replayed to the others later.
  if (deferred)
    return { status: 202, body: { ok: false, deferred: true, by, ...echo, ms: elapsed(started) } }
  return { status: 200, body: { ok: true, by, ...echo, ms: elapsed(started) } }
}

/**
 * `GET /explain?url=/products/1&method=GET&user=u1&header=accept-language:fr`.
 * The user of a per-user rule comes from `user=` only: the admin request's
 * own credentials are the admin token, never a user of the app.
 */
export function explain(engine: CacheEngine, query: URLSearchParams): JsonAnswer {
  const url = query.get('url')
  if (url === null || !url.startsWith('/')) {
    return badRequest('url', 'expected the path (and query) of a request, starting with "/"')
  }
  const method = query.get('method') ?? 'GET'
  if (!/^[A-Za-z]{1,16}$/.test(method)) return badRequest('method', 'expected an HTTP method')
  const headers: IncomingHttpHeaders = {}
  for (const header of query.getAll('header')) {
    const colon = header.indexOf(':')
    if (colon <= 0) return badRequest('header', 'expected "name: value"')
    headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim()
  }
  const user = query.get('user') ?? undefined
  const tenant = query.get('tenant') ?? undefined
  const explanation: Explanation = engine.explain({ method, url, headers, user, tenant })
  return { status: 200, body: explanation }
}

/** `GET /health`: 200 when every part works, 503 (same shape) when degraded. */
export interface AdminHealth {
  status: 'ok' | 'degraded'
  l1: { entries: number; bytes: number; maxBytes: number } | null
  l2: { name: string; breaker: string; trusted: boolean } | null
  /** What is degraded, in words; empty when healthy. */
  problems: string[]
}

export function health(engine: CacheEngine): JsonAnswer {
  const { l1, l2 } = engine.stats()
  const problems: string[] = []
  if (l2 !== undefined) {
    if (l2.breaker !== 'closed') {
      problems.push(`the ${l2.name} breaker is ${l2.breaker}: the shared tier is not (fully) asked`)
    }
    if (!l2.trusted) {
      problems.push(`the ${l2.name} bus is not healthy: the memory tier is not served from`)
    }
  }
  const body: AdminHealth = {
    status: problems.length === 0 ? 'ok' : 'degraded',
    l1: l1 === undefined ? null : { entries: l1.entries, bytes: l1.bytes, maxBytes: l1.maxBytes },
    l2: l2 === undefined ? null : { name: l2.name, breaker: l2.breaker, trusted: l2.trusted },
    problems,
  }
  return { status: problems.length === 0 ? 200 : 503, body }
}

export function badRequest(field: string, error: string): JsonAnswer {
  return { status: 400, body: { error, field } }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}
