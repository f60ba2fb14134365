import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  type Fill,
  type HeldWrite,
  type MissView,
  type Replay,
  type RequestPort,
  serverListener,
} from '@cachet/core/adapter'
import { captureResponse } from './capture'
import { holdUntilInvalidated } from './hold'
import { narrowView } from './request-view'
import type { Identify } from './types'

export type Next = (err?: unknown) => void
type RequestListener = (req: IncomingMessage, res: ServerResponse) => void
export type ExpressRequest = IncomingMessage & { originalUrl?: string; app?: RequestListener }

/** The server's listener for `req`, else the Express app (`req.app`). */
export function listenerOf(req: ExpressRequest): RequestListener | undefined {
  return serverListener(req) ?? req.app
}

/** One request, as core's flow sees it; carries out each decision on Express's `req` and `res`. */
export class ExpressPort implements RequestPort<void> {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  constructor(
    readonly req: ExpressRequest,
    readonly res: ServerResponse,
    readonly next: Next,
    readonly user: Identify,
  ) {
    this.method = req.method ?? 'GET'
    this.url = req.originalUrl ?? req.url ?? '/'
    this.headers = req.headers
  }
  identify() {
    return this.user(this.req)
  }
  listener() {
    return listenerOf(this.req)
  }
  send(r: Replay) {
    this.res.writeHead(r.status, r.headers)
    this.res.end(r.body)
  }
  pass([outcome, status]: readonly [string, string]) {
    this.res.setHeader('x-cache', outcome)
    this.res.setHeader('cache-status', status)
    this.next()
  }
  forward(fill: Fill, view: MissView) {
    captureResponse(this.res, fill, view.conditionals)
    if (view.query !== undefined) narrowView(this.req, view.query)
    if (view.asGet) this.req.method = 'GET'
    this.next()
  }
  hold(write: HeldWrite) {
    holdUntilInvalidated(this.res, write)
    this.next()
  }
  fail(err: unknown) {
    this.next(err)
  }
}
