import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import {
  announce,
  captureWhole,
  decideAtHeaders,
  type Fill,
  fillOutcome,
  type HeldWrite,
  type Replay,
  type ResponseBypassReason,
  type ResponseHeaders,
  replacementFor,
  teeIntoFill,
} from '@cachet/core/adapter'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { clearHeaders, headerText, putReplay, replyHeaders } from './headers'
import type { Miss } from './port'

// The `onSend` side of a miss and of a held write. At `onSend` Fastify has
// serialized the route's answer: the payload is a string, a Buffer, a Node or
// web stream, a fetch `Response`, or nothing; the status and headers are
// final, and none of them has gone out.

function isReadable(payload: unknown): payload is Readable {
  return (
    payload !== null &&
    typeof payload === 'object' &&
    typeof (payload as Readable).pipe === 'function'
  )
}

function isWebStream(payload: unknown): payload is WebReadableStream {
  return (
    payload !== null &&
    typeof payload === 'object' &&
    typeof (payload as WebReadableStream).getReader === 'function'
  )
}

/** Drops the route's own payload when the cache answers in its place. */
function discard(payload: unknown): void {
  if (isReadable(payload)) payload.destroy()
  else if (isWebStream(payload)) payload.cancel().catch(() => {})
}

/** RFC 9110 §8.6: no Content-Length on 1xx, 204 and 304 responses. */
function bodiless(status: number): boolean {
  return status < 200 || status === 204 || status === 304
}

/** Not stored, and said so: `X-Cache: BYPASS` with the reason. */
function abandon(fill: Fill, headers: ResponseHeaders, reason: ResponseBypassReason): void {
  fill.onAbort()
  const [outcome, status] = fillOutcome(reason, fill.forwardedStale)
  headers.set('x-cache', outcome)
  headers.set('cache-status', status)
}

/** Sends a response the cache made in place of the route's: its status, headers and body. */
function replaceWith(reply: FastifyReply, r: Replay, payload: unknown): Buffer | null {
  discard(payload)
  putReplay(reply, r)
  return r.body ?? null
}

/** Tees a streamed payload into the fill as Fastify pipes it to the client. */
function captureStream(fill: Fill, status: number, headers: ResponseHeaders, payload: unknown) {
  announce(fill, decideAtHeaders(fill, status, headers), headers)
  if (!fill.capturing) return payload
  const source = isReadable(payload) ? payload : Readable.fromWeb(payload as WebReadableStream)
  return teeIntoFill(fill, source)
}

/** Records the route's answer to a miss into its fill; returns the payload Fastify is to send. */
function capture(fill: Fill, status: number, headers: ResponseHeaders, payload: unknown): unknown {
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload
    if (!bodiless(status) && headers.get('content-length') === undefined) {
      headers.set('content-length', body.length)
    }
    // The whole body is known before the headers go: decided, recorded and
    // announced at once, with the stored entry's validator on this miss already.
    captureWhole(fill, status, headers, body)
    return payload
  }
  if (payload === undefined || payload === null) {
    announce(fill, decideAtHeaders(fill, status, headers), headers)
    fill.onEnd()
    return payload
  }
  if (isReadable(payload) || isWebStream(payload)) {
    return captureStream(fill, status, headers, payload)
  }
  // A fetch `Response`: Fastify reads its status and headers only after `onSend`.
  abandon(fill, headers, 'body-kind')
  return payload
}

/**
 * A miss's reply, at `onSend`. Core may put a stored copy in its place (the
 * stale-if-error copy for a 5xx or an error the route threw; the refreshed
 * copy for a 304 to the cache's own conditional request); otherwise the reply
 * is recorded as it goes out. An error's answer is never stored: its body is
 * the error handler's, not the route's.
 */
export function sendMiss(
  miss: Miss,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): unknown {
  if (miss.asGet) request.raw.method = 'HEAD'
  const { fill } = miss
  const status = reply.statusCode
  const headers = replyHeaders(reply)
  const thrown = miss.thrown
  if (thrown === undefined || status >= 500) {
    const sent = reply.raw.headersSent
    const r = replacementFor(fill, thrown ?? status, headers, sent, miss.view.conditionals)
    if (r !== undefined) return replaceWith(reply, r, payload)
  }
  if (thrown !== undefined) {
    abandon(fill, headers, fill.veto ?? 'status')
    return payload
  }
  return capture(fill, status, headers, payload)
}

/**
 * A write's reply, at `onSend`: a 2xx waits for the write rule's
 * invalidation, so that a client who sees it and reads again never gets the
 * old version. If the invalidation fails, the 2xx becomes core's 503: the
 * write happened, but the old version may still be served.
 */
export function sendWrite(
  write: HeldWrite,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): unknown {
  if (!write.holds(reply.statusCode)) return payload
  const response = {
    location: headerText(reply.getHeader('location')),
    'content-location': headerText(reply.getHeader('content-location')),
  }
  return write.invalidate(response).then(
    () => payload,
    (err: unknown) => {
      request.log.error({ err }, 'cachet: the write rule could not invalidate; answering 503')
      clearHeaders(reply)
      return replaceWith(reply, write.failure, payload)
    },
  )
}
