// The framework-free shape of one origin call: what an app hands a route handler
// and what it gets back to translate into Express or Koa. Keeping the answer
// here is what makes the two apps answer byte for byte alike.

export interface OriginRequest {
  // Route parameters, as the router decoded them (Express gives arrays for
  // wildcards, which no shop route has).
  params: Readonly<Record<string, string | readonly string[] | undefined>>
  // The parsed query string; both frameworks give `string | string[]` values.
  query: Readonly<Record<string, unknown>>
  // The parsed JSON body of a write, when there was one.
  body?: unknown
  // Why the body could not be read, when it could not (see `bodyErrorFrom`).
  bodyError?: BodyError
  // The id of the demo-authenticated user, if any.
  user?: string
  // The request headers and URL as the app received them (after the cache, on
  // a cached route: only what the key holds).
  headers?: Readonly<Record<string, string | readonly string[] | undefined>>
  url?: string
}

export type OriginResponse =
  | { kind: 'json'; status: number; body: unknown; headers?: Readonly<Record<string, string>> }
  | { kind: 'bytes'; status: number; body: Buffer; contentType: string }
  | { kind: 'stream'; status: number; chunks: () => Iterable<Buffer>; contentType: string }
  | { kind: 'empty'; status: number }

export interface BodyError {
  status: number
  message: string
}

// Both apps limit JSON bodies alike, so a large body fails the same way in each.
export const JSON_BODY_LIMIT = '100kb'

const BODY_ERROR_MESSAGES: Record<number, string> = {
  400: 'invalid JSON body',
  413: 'request body too large',
  415: 'unsupported request body encoding',
}

// Turns a body parser's error (Express body-parser or Koa co-body, which word
// their messages differently) into the one answer both apps give: its 4xx status
// with a fixed message, or 400 for anything else.
export function bodyErrorFrom(err: unknown): BodyError {
  const status = statusOf(err)
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, message: BODY_ERROR_MESSAGES[status] ?? 'invalid request body' }
  }
  return { status: 400, message: 'invalid request body' }
}

// The first value of a query parameter: `?lang=fr&lang=en` reads as `fr` in
// both apps, whatever their query parsers do with repeats.
export function queryValue(query: OriginRequest['query'], name: string): string | undefined {
  const value = Object.hasOwn(query, name) ? query[name] : undefined
  const first: unknown = Array.isArray(value) ? value[0] : value
  return typeof first === 'string' ? first : undefined
}

// A single-segment route parameter, e.g. the `id` of `/products/:id`.
export function pathParam(req: OriginRequest, name: string): string | undefined {
  const value = Object.hasOwn(req.params, name) ? req.params[name] : undefined
  return typeof value === 'string' ? value : undefined
}

export function json(
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): OriginResponse {
  return headers === undefined
    ? { kind: 'json', status, body }
    : { kind: 'json', status, body, headers }
}

export function jsonError(status: number, error: string): OriginResponse {
  return json(status, { error })
}

export const notFound = (): OriginResponse => jsonError(404, 'not found')
export const unauthorized = (): OriginResponse => jsonError(401, 'unauthorized')
export const originFailing = (): OriginResponse => jsonError(503, 'origin failing')
export const internalError = (): OriginResponse => jsonError(500, 'internal error')

// A plain JSON object (not an array, not null), as write bodies must be.
export function isJsonObject(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown }
  const value = status ?? statusCode
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined
}
