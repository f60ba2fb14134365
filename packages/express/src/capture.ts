import { type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from 'node:http'
import {
  announce,
  type Conditionals,
  captureWhole,
  decideAtHeaders,
  type Fill,
  nodeHeaders,
  replacementFor,
} from '@cachet/core/adapter'

type Chunk = string | Buffer | Uint8Array

function toBuffer(chunk: Chunk, encoding?: BufferEncoding): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding)
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

/** Splits the optional `(encoding, callback)` tail of `write` / `end`. */
function encodingOf(arg: unknown): BufferEncoding | undefined {
  return typeof arg === 'string' ? (arg as BufferEncoding) : undefined
}

/**
 * `writeHead(status, [reason], [headers])` may carry headers that never pass
 * through `setHeader`; move them there so the decision sees the final set.
 */
function absorbHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    const grouped: Record<string, string[]> = {}
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = String(headers[i]).toLowerCase()
      if (grouped[name] === undefined) grouped[name] = []
      grouped[name].push(String(headers[i + 1]))
    }
    for (const name in grouped) {
      const values = grouped[name] as string[]
      res.setHeader(name, values.length === 1 ? (values[0] as string) : values)
    }
  } else if (headers !== null && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (value !== undefined) res.setHeader(name, value)
    }
  }
}

/**
 * Captures a miss's response as it goes to the client, the way
 * expressjs/compression wraps a response: `writeHead`, `write` and `end` are
 * wrapped; the decision is taken once the status and headers are final; body
 * chunks are copied into the fill until its size cap, and the write's return
 * value (backpressure) is the original one. A single-chunk response gets a
 * strong ETag before its headers go out, as the stored entry will have.
 *
 * When the fill holds a stale-if-error copy and the route answers 5xx (itself,
 * or through an error handler after a throw), the copy is sent instead, before
 * any of the failure's headers go out, and the rest of the failure is dropped.
 * Likewise when the route answers the cache's own conditional request 304
 * (`ttl: 'origin'`): the refreshed copy is sent.
 */
export function captureResponse(
  res: ServerResponse,
  fill: Fill,
  conditionals: Conditionals | undefined,
): void {
  const writeHead = res.writeHead as (...args: unknown[]) => ServerResponse
  const write = res.write
  const end = res.end
  let decided = false
  let ended = false
  let replaced = false

  /**
   * Sends a stored copy in place of what the route is about to send, before
   * any of its headers go out; true when it did: the stale-if-error copy in
   * place of a 5xx, or, when the route answered the cache's own conditional
   * request 304, the refreshed copy (the client did not ask for a 304).
   */
  const headers = nodeHeaders(res)
  const replace = (): boolean => {
    const r = replacementFor(fill, res.statusCode, headers, res.headersSent, conditionals)
    if (r === undefined) return false
    replaced = true
    // The copy's own reason phrase: an error handler (finalhandler) may have set the failure's.
    writeHead.call(res, r.status, STATUS_CODES[r.status] ?? 'unknown', r.headers)
    ;(end as (...a: unknown[]) => ServerResponse).call(res, r.body)
    return true
  }

  /** What the route writes after a stored copy replaced its answer goes nowhere. */
  const dropped = (args: unknown[]) => {
    const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined
    if (callback !== undefined) process.nextTick(callback)
  }

  const decide = () => {
    if (decided) return
    decided = true
    announce(fill, decideAtHeaders(fill, res.statusCode, headers), headers)
  }

  res.writeHead = function cachetWriteHead(
    this: ServerResponse,
    statusCode: number,
    ...rest: unknown[]
  ) {
    if (replaced) return this
    this.statusCode = statusCode
    const reason = typeof rest[0] === 'string' ? rest[0] : undefined
    absorbHeaders(this, typeof rest[0] === 'string' ? rest[1] : rest[0])
    if (replace()) return this
    decide()
    return reason === undefined
      ? writeHead.call(this, this.statusCode)
      : writeHead.call(this, this.statusCode, reason)
  } as ServerResponse['writeHead']

  res.write = function cachetWrite(this: ServerResponse, chunk: Chunk, ...rest: unknown[]) {
    if (replaced || (!this.headersSent && replace())) {
      dropped(rest)
      return true
    }
    if (!this.headersSent) decide()
    if (fill.capturing && chunk != null) fill.onChunk(toBuffer(chunk, encodingOf(rest[0])))
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
  } as ServerResponse['write']

  res.end = function cachetEnd(this: ServerResponse, ...args: unknown[]) {
    if (replaced || (!this.headersSent && !decided && replace())) {
      dropped(args)
      return this
    }
    if (ended) return (end as (...a: unknown[]) => ServerResponse).apply(this, args)
    ended = true
    const chunk = typeof args[0] === 'function' ? undefined : (args[0] as Chunk | undefined | null)
    const body = chunk == null ? undefined : toBuffer(chunk, encodingOf(args[1]))
    if (!this.headersSent && !decided) {
      // RFC 9110 §8.6: no Content-Length on 1xx and 204 responses.
      const bodiless = this.statusCode < 200 || this.statusCode === 204 || this.statusCode === 304
      if (body !== undefined && !bodiless && this.getHeader('content-length') === undefined) {
        this.setHeader('content-length', body.length)
      }
      decided = true
      // The whole body is known before the headers go: decided, recorded and
      // announced at once, with the stored entry's validator on this miss already.
      if (body !== undefined) captureWhole(fill, this.statusCode, headers, body)
      else {
        announce(fill, decideAtHeaders(fill, this.statusCode, headers), headers)
        fill.onEnd()
      }
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args)
    }
    if (fill.capturing && body !== undefined) fill.onChunk(body)
    fill.onEnd()
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args)
  } as ServerResponse['end']

  // The client may have gone while the lookup was awaited: 'close' has then
  // already fired, and a streaming route may never call end().
  if (res.destroyed || res.socket?.destroyed) fill.onAbort()
  res.once('close', () => {
    if (!ended) fill.onAbort()
  })
}
