import { debuglog } from 'node:util'
import type { CacheEngine } from '../engine/engine'
import { CachetConfigError, describeValue } from '../errors'
import { topEndpoint, warmEndpoint } from '../warm/warm-endpoint'
import { AdminBodyError } from './body'
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard'
import { explain, health, invalidate, type JsonAnswer, stats } from './endpoints'
import { AdminTokenChecker, type AdminTokens } from './tokens'

export interface AdminOptions {
  /** One token (named `admin`), or `{ name: token }`; required, each at least 16 characters. */
  tokens: AdminTokens
}

/** One admin request, as an adapter hands it over. */
export interface AdminRequest {
  method: string
  /** Path and query below the mount point: `/`, `/stats`, `/explain?url=/a`. */
  url: string
  authorization: string | undefined
  /** The parsed JSON body; called only for an authenticated `POST /invalidate`. */
  body(): Promise<unknown>
}

/** What the adapter writes back: always a complete answer, never a throw. */
export interface AdminResponse {
  status: number
  headers: Record<string, string>
  body: string
}

export interface AdminHandler {
  handle(request: AdminRequest): Promise<AdminResponse>
}

/** A cache middleware (both adapters' carry `.engine`) or an engine. */
export type AdminSource = CacheEngine | { readonly engine: CacheEngine }

const debug = debuglog('cachet')

// Admin answers are about this moment and may name tags and users: never stored.
const COMMON = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' }
const JSON_TYPE = 'application/json; charset=utf-8'

type Endpoint = (
  engine: CacheEngine,
  query: URLSearchParams,
  request: AdminRequest,
  by: string,
) => JsonAnswer | Promise<JsonAnswer>

const ENDPOINTS: Record<string, { method: 'GET' | 'POST'; run: Endpoint }> = {
  '/stats': { method: 'GET', run: (engine) => stats(engine) },
  '/health': { method: 'GET', run: (engine) => health(engine) },
  '/explain': { method: 'GET', run: (engine, query) => explain(engine, query) },
  '/invalidate': {
    method: 'POST',
    run: async (engine, _query, request, by) => {
      const body = await readBody(request)
      return 'answer' in body ? body.answer : invalidate(engine, body.value, by)
    },
  },
  // Warm-up (src/warm/warm-endpoint.ts): POST /warm { urls?, top?, concurrency? }, GET /top?n=.
  '/warm': {
    method: 'POST',
    run: async (engine, _query, request) => {
      const body = await readBody(request)
      return 'answer' in body ? body.answer : warmEndpoint(engine, body.value)
    },
  },
  '/top': { method: 'GET', run: (engine, query) => topEndpoint(engine, query) },
}

/**
 * The framework-free admin API: `GET /` (the dashboard page), `GET /stats`,
 * `POST /invalidate`, `GET /explain`, `GET /health`. Every route but the
 * page needs `Authorization: Bearer <token>`. The page itself is static and
 * carries no data (a browser cannot add a header to a page load): it asks for
 * the token and sends it with every request it makes.
 */
export function createAdmin(source: AdminSource, options: AdminOptions): AdminHandler {
  const engine = isEngine(source) ? source : (source as { engine?: unknown } | undefined)?.engine
  if (!isEngine(engine)) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `admin: expected the cache middleware (or its engine), got ${describeValue(source)}`,
    )
  }
  if (typeof options !== 'object' || options === null) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `admin: expected options { tokens }, got ${describeValue(options)} (the admin API refuses to run without a token)`,
    )
  }
  const tokens = new AdminTokenChecker(options.tokens)

  return {
    async handle(request) {
      const method = request.method.toUpperCase()
      const [rawPath = '/', rawQuery = ''] = splitOnce(request.url, '?')
      const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : '/'
      if (path === '/') {
        if (method !== 'GET' && method !== 'HEAD') return notAllowed('GET, HEAD')
        return page()
      }
      const by = tokens.check(request.authorization)
      if (by === undefined) return unauthorized()
      const endpoint = ENDPOINTS[path]
      if (endpoint === undefined) return json({ status: 404, body: { error: 'not found' } })
      const allowed = endpoint.method === 'GET' ? ['GET', 'HEAD'] : [endpoint.method]
      if (!allowed.includes(method)) return notAllowed(allowed.join(', '))
      try {
        return json(await endpoint.run(engine, new URLSearchParams(rawQuery), request, by))
      } catch (err) {
        debug('admin: %s %s failed: %s', method, path, (err as Error)?.stack ?? err)
        return json({ status: 500, body: { error: 'internal error' } })
      }
    },
  }
}

// By shape rather than `instanceof`: two copies of @cachet/core in one app
// (a bundler, a nested install) still make a working admin API.
function isEngine(value: unknown): value is CacheEngine {
  const v = value as Partial<Record<keyof CacheEngine, unknown>> | null | undefined
  return (
    typeof v?.stats === 'function' &&
    typeof v.invalidate === 'function' &&
    typeof v.explain === 'function' &&
    typeof v.recentInvalidations === 'function'
  )
}

async function readBody(
  request: AdminRequest,
): Promise<{ value: unknown } | { answer: JsonAnswer }> {
  try {
    return { value: await request.body() }
  } catch (err) {
    const bad = err instanceof AdminBodyError ? err : new AdminBodyError(400, 'unreadable body')
    const headers: Record<string, string> = bad.close ? { Connection: 'close' } : {}
    return { answer: { status: bad.status, headers, body: { error: bad.message, field: 'body' } } }
  }
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator)
  return at === -1 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)]
}

function json(answer: JsonAnswer): AdminResponse {
  return {
    status: answer.status,
    headers: { ...COMMON, 'Content-Type': JSON_TYPE, ...answer.headers },
    body: JSON.stringify(answer.body),
  }
}

// A missing and a wrong token get the very same answer (RFC 6750 §3).
function unauthorized(): AdminResponse {
  return json({
    status: 401,
    headers: { 'WWW-Authenticate': 'Bearer realm="cachet admin"' },
    body: { error: 'unauthorized: send Authorization: Bearer <admin token>' },
  })
}

function notAllowed(allow: string): AdminResponse {
  return json({ status: 405, headers: { Allow: allow }, body: { error: 'method not allowed' } })
}

function page(): AdminResponse {
  return {
    status: 200,
    headers: {
      ...COMMON,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': DASHBOARD_CSP,
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
    },
    body: DASHBOARD_HTML,
  }
}
