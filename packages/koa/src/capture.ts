import { pipeline, Readable, Transform } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import {
  type Fill,
  fillOutcome,
  missCacheControl,
  type ResponseBypassReason,
  varyWith,
} from '@cachet/core'
import type { Context } from 'koa'

function isReadable(body: unknown): body is Readable {
  return body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function'
}

/** Adds the rule's keyed request headers to `Vary` (see `varyWith`). */
function addVary(ctx: Context, fill: Fill): void {
  const vary = varyWith(ctx.response.get('vary') || undefined, fill.rule.key.headers)
  if (vary !== undefined) ctx.set('vary', vary)
}

/**
 * `X-Cache`, `Cache-Status` and, on a response being stored, the rule's
 * `cacheControl` in place of the route's (after the decision, which so
 * judged and stored the route's own header).
 */
function setOutcome(ctx: Context, fill: Fill, veto: ResponseBypassReason | undefined): void {
  const cacheControl = missCacheControl(fill, veto)
  if (cacheControl !== undefined) {
    ctx.set('cache-control', cacheControl)
    ctx.remove('expires')
  }
  const [outcome, status] = fillOutcome(veto, fill.forwardedStale)
  ctx.set('x-cache', outcome)
  ctx.set('cache-status', status)
}

/** Records the whole body a route produced as bytes, and hands Koa those bytes. */
function captureBytes(ctx: Context, fill: Fill, bytes: Buffer): void {
  const etag = ctx.status === 200 && !ctx.response.get('etag')
  const status = ctx.status
  // Same bytes Koa's respond() would write, so the entry replays them exactly;
  // the status is set again because a body assignment can change it.
  ctx.body = bytes
  ctx.status = status
  addVary(ctx, fill)
  const veto = fill.onHeaders(status, ctx.response.headers)
  // Set after the decision, which so knows the route gave no validator of its own.
  if (etag) ctx.set('etag', fill.strongEtag(bytes))
  fill.onChunk(bytes)
  fill.onEnd()
  setOutcome(ctx, fill, veto ?? fill.veto)
}

/** Tees a streamed body into the fill as Koa pipes it to the client. */
function captureStream(ctx: Context, fill: Fill, source: Readable): void {
  addVary(ctx, fill)
  setOutcome(ctx, fill, fill.onHeaders(ctx.status, ctx.response.headers))
  if (!fill.capturing) return
  const tee = new Transform({
    transform(chunk: Buffer | string, encoding, callback) {
      fill.onChunk(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding))
      callback(null, chunk)
    },
    flush(callback) {
      fill.onEnd()
      callback()
    },
  })
  pipeline(source, tee, (err) => {
    if (err) fill.onAbort()
  })
  // Koa destroys the body stream when the response closes early.
  tee.once('close', () => fill.onAbort())
  const status = ctx.status
  ctx.body = tee
  ctx.status = status
}

/**
 * Captures what a Koa route left in `ctx.body`, covering the body kinds Koa's
 * `respond()` writes: Buffer, string, JSON value, Node stream, Blob and web
 * ReadableStream. A `Response` object or an empty body is not stored.
 */
export async function captureBody(ctx: Context, fill: Fill, head: boolean): Promise<void> {
  const body: unknown = ctx.body
  if (Buffer.isBuffer(body)) return captureBytes(ctx, fill, body)
  if (typeof body === 'string') return captureBytes(ctx, fill, Buffer.from(body))
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    return captureBytes(ctx, fill, Buffer.from(await body.arrayBuffer()))
  }
  if (
    isReadable(body) ||
    (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream)
  ) {
    // Koa ends a HEAD response without reading its stream: nothing to record.
    if (head) return abandon(ctx, fill, 'body-kind')
    const source = isReadable(body) ? body : Readable.fromWeb(body as WebReadableStream)
    return captureStream(ctx, fill, source)
  }
  if (
    body === null ||
    body === undefined ||
    (typeof Response !== 'undefined' && body instanceof Response)
  ) {
    return abandon(ctx, fill, 'body-kind')
  }
  // A JSON value: Koa's respond() sends JSON.stringify(body), and the
  // assignment of the object already set the JSON content type.
  captureBytes(ctx, fill, Buffer.from(JSON.stringify(body)))
}

function abandon(ctx: Context, fill: Fill, reason: ResponseBypassReason): void {
  fill.onAbort()
  const [, status] = fillOutcome(reason, fill.forwardedStale)
  ctx.set('x-cache', 'BYPASS')
  ctx.set('cache-status', status)
}
