import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { pipeline, type Readable, Transform } from 'node:stream'
import { cdnHeaders, privateCacheControl } from '../cdn/headers'
import type { Fill } from '../engine/fill'
import { type Replay, replay } from '../engine/replay'
import { fillOutcome } from '../engine/status-headers'
import type { Conditionals } from '../http/conditional'
import { varyWith } from '../http/headers'
import type { ResponseBypassReason } from '../http/storable'

/** The response headers of a miss, as the adapter's framework holds them before they go out. */
export interface ResponseHeaders {
  get(name: string): unknown
  set(name: string, value: string | number | readonly string[]): void
  remove(name: string): void
  /** Every header set so far, names in lower case. */
  all(): OutgoingHttpHeaders
}

/**
 * The decision on a miss's response, once its status and headers are final
 * and before they go out: the rule's keyed request headers join `Vary`, and
 * the fill judges whether the response may be stored. Returns why not, if not.
 */
export function decideAtHeaders(
  fill: Fill,
  status: number,
  headers: ResponseHeaders,
): ResponseBypassReason | undefined {
  const vary = varyWith(headers.get('vary') as string | string[] | undefined, fill.rule.key.headers)
  if (vary !== undefined) headers.set('vary', vary)
  return fill.onHeaders(status, headers.all())
}

/**
 * What the cache tells about a miss: `X-Cache`, `Cache-Status` and, on a
 * response being stored (`veto` undefined), the rule's `cacheControl` in
 * place of the route's `Cache-Control` and `Expires` (set after the
 * decision, which so judged and stored the route's own header). A response
 * that is not stored keeps the route's own header.
 */
export function announce(
  fill: Fill,
  veto: ResponseBypassReason | undefined,
  headers: ResponseHeaders,
): void {
  const cacheControl = veto === undefined ? fill.rule.cacheControl : undefined
  if (cacheControl !== undefined) {
    headers.set('cache-control', cacheControl)
    headers.remove('expires')
  }
  // The CDN's tag header and lifetime, as every answer from the cache will carry them.
  const cdn = veto === undefined ? fill.rule.cdn : undefined
  if (cdn !== undefined) {
    const out = cdnHeaders(cdn, fill.fence.tags)
    if (out.privatize) {
      const cc = headers.get('cache-control') as string | string[] | undefined
      headers.set(
        'cache-control',
        privateCacheControl(cc === undefined ? undefined : [cc].flat().join(', ')),
      )
    }
    for (let i = 0; i < out.headers.length; i += 2)
      headers.set(out.headers[i] as string, out.headers[i + 1] as string)
  }
  const [outcome, status] = fillOutcome(veto, fill.forwardedStale)
  headers.set('x-cache', outcome)
  headers.set('cache-status', status)
}

/**
 * A miss whose whole body is known before its headers go out (one `end`
 * call, or Koa's `ctx.body`): the decision, the stored entry's strong ETag
 * already on this response (when the route gave no validator of its own),
 * the body recorded, and the outcome announced. Returns the veto.
 */
export function captureWhole(
  fill: Fill,
  status: number,
  headers: ResponseHeaders,
  body: Buffer,
): ResponseBypassReason | undefined {
  const etag = status === 200 && headers.get('etag') === undefined
  const veto = decideAtHeaders(fill, status, headers)
  if (etag) headers.set('etag', fill.strongEtag(body))
  fill.onChunk(body)
  fill.onEnd()
  const final = veto ?? fill.veto
  announce(fill, final, headers)
  return final
}

/**
 * The stored copy to send in place of what the route is about to send,
 * before any of its headers go out: the stale-if-error copy in place of a
 * 5xx (`status`; 0 for an error thrown), or, when the route answered the
 * cache's own conditional request 304 (`ttl: 'origin'`), the refreshed copy
 * (the client did not ask for a 304). Every header the route had set is
 * removed from `headers` (the outer layers' are set again for a refreshed
 * copy). `undefined` when the route's answer goes out as it is, and always
 * once `headersSent`.
 */
export function replacementFor(
  fill: Fill,
  status: number,
  headers: ResponseHeaders,
  headersSent: boolean,
  conditionals: Conditionals | undefined,
): Replay | undefined {
  if (headersSent) return undefined
  // Answered for already (`originTimeout`): a failure goes to the fill only
  // (and is not stored); a 304 still refreshes the copy (into the shadow).
  if (fill.stale !== undefined && (status === 0 || status >= 500) && !fill.detached) {
    const stale = fill.serveStale(status)
    clear(headers)
    const originStatus = status === 0 ? undefined : status
    const how = { reason: 'error', forwarded: true, originStatus } as const
    return replay(stale, Date.now(), conditionals, false, how, fill.rule)
  }
  if (fill.revalidating && status === 304) {
    const entry = fill.notModified(headers.all())
    clear(headers)
    for (const [name, value] of Object.entries(fill.outerHeaders))
      if (value !== undefined) headers.set(name, value)
    const how = { reason: 'revalidated', mismatch: fill.veto === 'validator-mismatch' } as const
    return replay(entry, Date.now(), conditionals, false, how, fill.rule)
  }
  return undefined
}

function clear(headers: ResponseHeaders): void {
  for (const name of Object.keys(headers.all())) headers.remove(name)
}

/** `ResponseHeaders` over a Node response (`res.getHeader` and friends). */
export function nodeHeaders(res: ServerResponse): ResponseHeaders {
  return {
    get: (name) => res.getHeader(name),
    set: (name, value) => {
      res.setHeader(name, value)
    },
    remove: (name) => res.removeHeader(name),
    all: () => res.getHeaders(),
  }
}

/**
 * Tees a streamed miss into its fill: what the returned stream passes on is
 * recorded chunk by chunk (until the fill's size cap), the fill ends when
 * the source does, and is abandoned when the source fails or the response
 * closes early (the framework destroys the stream it was sending).
 */
export function teeIntoFill(fill: Fill, source: Readable): Transform {
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
  tee.once('close', () => fill.onAbort())
  return tee
}
