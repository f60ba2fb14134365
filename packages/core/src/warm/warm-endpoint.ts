import type { JsonAnswer } from '../admin/endpoints'
import type { CacheEngine } from '../engine/engine'
import { CachetConfigError, describeValue } from '../errors'
import { MAX_WARM_CONCURRENCY, MAX_WARM_URLS, warmCache } from './warm'

// The admin API's warm-up endpoints, framework-free like the others: a
// function of the engine and the parsed request, answering a status and JSON.

const FIELD = /^warm\(\): "([^"]+)"/

function badRequest(field: string, error: string): JsonAnswer {
  return { status: 400, body: { error, field } }
}

/**
 * `POST /warm` with `{ urls?: string[], top?: number, concurrency?: number }`:
 * fetches the URLs (or the `top` most requested) through the app, and answers
 * once they are stored: 200 with the summary (`total`, `ok`, `failed`,
 * `skipped`, `hits`, `misses`, `ms`, `problems`), 400 naming the bad field,
 * 503 when the app's listener is not known yet. It warms the process that
 * receives it (and, through the shared tier, every process that reads it).
 */
export async function warmEndpoint(engine: CacheEngine, body: unknown): Promise<JsonAnswer> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return badRequest('body', `expected { urls?, top?, concurrency? }, got ${describeValue(body)}`)
  const { urls, top, concurrency, ...rest } = body as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined)
    return badRequest(unknown, 'unknown field (expected urls, top or concurrency)')
  if (urls !== undefined && (!Array.isArray(urls) || urls.length > MAX_WARM_URLS))
    return badRequest('urls', `expected an array of at most ${MAX_WARM_URLS} URLs`)
  if (
    concurrency !== undefined &&
    (!Number.isSafeInteger(concurrency) ||
      (concurrency as number) < 1 ||
      (concurrency as number) > MAX_WARM_CONCURRENCY)
  )
    return badRequest('concurrency', `expected a whole number from 1 to ${MAX_WARM_CONCURRENCY}`)
  try {
    const summary = await warmCache(
      engine,
      { urls: urls as string[] | undefined, top: top as number | undefined },
      { concurrency: concurrency as number | undefined },
    )
    return { status: 200, body: summary }
  } catch (err) {
    if (!(err instanceof CachetConfigError)) throw err
    const field = FIELD.exec(err.message)?.[1] ?? 'body'
    if (field === 'listener') return { status: 503, body: { ok: false, error: err.message } }
    return badRequest(field, err.message)
  }
}

/** `GET /top?n=20`: the most requested URLs (`warm.track`), most requested first. */
export function topEndpoint(engine: CacheEngine, query: URLSearchParams): JsonAnswer {
  const raw = query.get('n') ?? '20'
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(n >= 1 && n <= MAX_WARM_URLS))
    return badRequest('n', `expected a whole number from 1 to ${MAX_WARM_URLS}`)
  return { status: 200, body: { urls: engine.topUrls(n) } }
}
