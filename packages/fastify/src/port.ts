import { type IncomingMessage, STATUS_CODES } from 'node:http'
import {
  type Fill,
  fillOutcome,
  type HeldWrite,
  type MissView,
  type Replay,
  type RequestPort,
  serverListener,
} from '@cachet/core/adapter'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CacheParts } from './cache'
import { allHeaders } from './headers'
import { type HeadRoutes, narrowQuery } from './view'

type RawRequest = IncomingMessage & { originalUrl?: string }

/** A miss on its way through the route, recorded into `fill` when the reply is sent. */
export interface Miss {
  readonly kind: 'miss'
  readonly fill: Fill
  readonly view: MissView
  /** A HEAD run as GET: the method to put back once the route has answered. */
  readonly asGet: boolean
  /** The route threw: the status of the error itself (0 when it has none of 500 or more). */
  thrown?: number
}

/** A write whose 2xx waits for the write rule's invalidation. */
export interface Write {
  readonly kind: 'write'
  readonly write: HeldWrite
}

/** What the `onSend` hook has to do for a request, by request. */
export const pending = new WeakMap<FastifyRequest, Miss | Write>()

/**
 * Writes a response the cache made straight to `reply.raw`: its status,
 * headers and bytes were all computed when the entry was stored, and
 * Fastify's serializer and `onSend` hooks would only redo that work.
 * `reply.hijack()` tells Fastify the reply is answered (no other hook, no
 * body parsing, no handler). Headers that hooks before the cache set on the
 * reply (CORS, say) go out too, as on a miss: they are never stored.
 */
export function writeHit(reply: FastifyReply, r: Replay): void {
  reply.hijack()
  const res = reply.raw
  const outer = reply.getHeaders()
  for (const name in outer) {
    const value = outer[name]
    if (value !== undefined) res.setHeader(name, value)
  }
  res.writeHead(r.status, STATUS_CODES[r.status] ?? 'unknown', r.headers)
  res.end(r.body)
}

/** One request, as core's flow sees it; carries out each decision on Fastify's request and reply. */
export class FastifyPort implements RequestPort<void> {
  readonly method: string
  readonly url: string
  constructor(
    readonly request: FastifyRequest,
    readonly reply: FastifyReply,
    readonly parts: CacheParts,
    readonly heads: HeadRoutes,
  ) {
    const raw = request.raw as RawRequest
    this.method = raw.method ?? 'GET'
    // The URL as the client sent it (before `rewriteUrl`); not `request.originalUrl`,
    // which Fastify remembers once read, and a miss may narrow the query.
    this.url = raw.originalUrl ?? raw.url ?? '/'
  }
  get headers() {
    return this.request.raw.headers
  }
  get req() {
    return this.request.raw
  }
  get res() {
    return this.reply.raw
  }
  identify() {
    return this.parts.identify(this.request)
  }
  listener() {
    return serverListener(this.request.raw) ?? this.parts.listener
  }
  next() {}
  send(r: Replay) {
    writeHit(this.reply, r)
  }
  pass([outcome, status]: readonly [string, string]) {
    this.reply.header('x-cache', outcome)
    this.reply.header('cache-status', status)
  }
  forward(fill: Fill, view: MissView) {
    const { request, reply } = this
    // The headers hooks before the cache set are on the reply, not yet on `res`.
    fill.setOuterHeaders(allHeaders(reply))
    if (view.asGet && !this.heads.runsGet(request)) {
      // A HEAD route of its own: what it answers is not the GET entry's representation.
      fill.onAbort()
      this.pass(fillOutcome('body-kind', fill.forwardedStale))
      return
    }
    if (view.query !== undefined) narrowQuery(request, view.query)
    // The route of a GET runs for a HEAD (Fastify's HEAD routes): it sees a GET, and
    // Node sends no body for the HEAD whatever the route writes.
    if (view.asGet) request.raw.method = 'GET'
    const res = reply.raw
    // The client may have gone while the lookup was awaited; a fill that
    // finished already ignores the abort.
    if (res.destroyed) fill.onAbort()
    else res.once('close', () => fill.onAbort())
    pending.set(request, { kind: 'miss', fill, view, asGet: view.asGet })
  }
  hold(write: HeldWrite) {
    pending.set(this.request, { kind: 'write', write })
  }
  fail(err: unknown): never {
    throw err
  }
}
