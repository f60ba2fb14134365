import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { WriteResponse } from '../engine/engine'
import type { Fill } from '../engine/fill'
import type { Replay } from '../engine/replay'
import type { Conditionals } from '../http/conditional'

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * How the route of a miss sees the request, decided in core and applied by
 * the adapter to its own request object (`handleRequest` has already
 * narrowed `headers` and replaced the client's conditional fields).
 */
export interface MissView {
  /** The conditional fields the client sent, before they were removed from the route's view. */
  readonly conditionals: Conditionals | undefined
  /** The query string to give the route in place of its own (only keyed parameters), if it differs. */
  readonly query: string | undefined
  /** A HEAD miss fills the GET entry: run the route as GET. */
  readonly asGet: boolean
}

/** A write rule's hold on a response, decided in core and applied by the adapter. */
export interface HeldWrite {
  /** Whether a response with this status waits for the invalidation (a 2xx does). */
  holds(status: number): boolean
  /**
   * Runs the write rule's invalidation, told the response's `Location` and
   * `Content-Location`. When it rejects, the adapter answers `failure`
   * instead of the route's 2xx.
   */
  invalidate(response: WriteResponse): Promise<unknown>
  /** The answer to a 2xx write whose invalidation failed (a 503 with `Cache-Control: no-store`). */
  readonly failure: Replay
}

/**
 * What an adapter gives `handleRequest`: a view of the request and the few
 * things only the framework can do. Every decision — which rule, which key,
 * hit or miss, stale or not, what the route may see — is taken in core; the
 * adapter carries it out. `R` is what the framework's middleware returns
 * (`void` for Express, a promise for Koa).
 */
export interface RequestPort<R> {
  readonly method: string
  /** The URL as the app received it (Express `req.originalUrl`, Koa `ctx.originalUrl`). */
  readonly url: string
  /** The request's headers; a miss narrows them in place for the route. */
  readonly headers: IncomingHttpHeaders
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The request's verified user, for per-user rules. */
  identify(): string | undefined
  /** The app's request listener, for a background refresh through the app. */
  listener(): RequestListener | undefined
  /** No rule matched: go on to the app. */
  next(): R
  /** Writes a response the cache made (a hit, a stale copy, the only-if-cached 504) as is. */
  send(response: Replay): R
  /** Lets the route answer, the cache's `X-Cache` and `Cache-Status` set on the response. */
  pass(outcome: readonly [xCache: string, cacheStatus: string]): R
  /** Lets the route answer a miss while its response is recorded into `fill`. */
  forward(fill: Fill, view: MissView): R
  /** Lets the route answer a write, its 2xx held until `write.invalidate` settles. */
  hold(write: HeldWrite): R
  /** A cache step failed unexpectedly (a bug, not a tier fault: those fail open in the engine). */
  fail(err: unknown): R
}
