import { Failure, UsageError } from './args'

/** An admin API answer: its status and parsed JSON body (`undefined` when not JSON). */
export interface AdminAnswer {
  status: number
  body: unknown
}

/**
 * One request to the admin API (`GET /stats`, `POST /invalidate`...) with the
 * bearer token. Network errors and timeouts are failures (exit 1); the caller
 * decides what each status means.
 */
export async function adminRequest(
  base: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  timeoutMs: number,
  body?: unknown,
): Promise<AdminAnswer> {
  const url = `${base}${path}`
  let res: Response
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const why =
      e.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message)
    throw new Failure(`cannot reach the admin API at ${url}: ${why}`)
  }
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: res.status, body: parsed }
}

/** The error message an admin API answer carries, if any. */
export function errorOf(answer: AdminAnswer): string {
  const error = (answer.body as { error?: unknown } | undefined)?.error
  return typeof error === 'string' ? error : ''
}

/** Turns a non-2xx answer into the command's error: 400 a usage error, anything else a failure. */
export function refuse(answer: AdminAnswer, url: string): never {
  const error = errorOf(answer)
  switch (answer.status) {
    case 400:
      throw new UsageError(`the admin API refused the request (400): ${error || 'bad request'}`)
    case 401:
      throw new Failure(`401 unauthorized: the admin API at ${url} refused the token`)
    case 404:
      throw new Failure(
        `404: no such admin endpoint at ${url} (is the admin API mounted there, and CACHE_ADMIN_TOKEN set?)`,
      )
    default:
      throw new Failure(`the admin API answered ${answer.status}${error ? `: ${error}` : ''}`)
  }
}
