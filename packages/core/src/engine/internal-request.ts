import type { EventEmitter } from 'node:events'
import {
  type IncomingHttpHeaders,
  IncomingMessage,
  type RequestListener,
  ServerResponse,
} from 'node:http'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'

/**
 * Internal requests: a GET dispatched through the app's own request listener
 * with a socket that goes nowhere, so that the app's middleware (auth, the
 * cache's own middleware) and route run as for a client, and what the route
 * writes is captured by the cache and discarded. Two modes: `refresh`, the
 * background refresh of stale-while-revalidate (the cache middleware
 * recognises it with `isInternalRequest` and refills the entry), and `plain`,
 * which the cache middleware cannot tell from a client's request (lookup,
 * then hit or fill): the warm-up.
 */

const INTERNAL = Symbol('cachet.internal-request')

/** Request headers not copied into an internal request: hop-by-hop, body, conditional, range. */
const DROPPED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-type',
  'expect',
  'upgrade',
  'te',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
])

/** Longest response head kept for `internalExchange` (a head past it is not parsed). */
const MAX_HEAD_BYTES = 64 * 1024

/**
 * A socket whose writes are dropped and that never reads: the response goes
 * nowhere. When asked, it keeps the response's head (status line and headers,
 * as a client would have received them) and drops the body.
 */
class NullSocket extends Duplex {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly encrypted: boolean | undefined
  /** The head seen so far (latin1), while it is still being looked for. */
  head: string | undefined
  /** Whether the whole head has been seen. */
  headDone = false

  constructor(from: Socket | undefined, keepHead: boolean) {
    super()
    this.remoteAddress = from?.remoteAddress
    this.remotePort = from?.remotePort
    this.remoteFamily = from?.remoteFamily
    // Express's req.protocol and Koa's ctx.protocol read this.
    this.encrypted = (from as { encrypted?: boolean } | undefined)?.encrypted
    this.head = keepHead ? '' : undefined
  }

  override _read(): void {}

  override _write(chunk: unknown, encoding: BufferEncoding, callback: () => void): void {
    if (this.head !== undefined && !this.headDone) {
      const text = Buffer.isBuffer(chunk)
        ? chunk.toString('latin1')
        : Buffer.from(String(chunk), encoding).toString('latin1')
      this.head += text
      const end = this.head.indexOf('\r\n\r\n')
      if (end !== -1) {
        this.head = this.head.slice(0, end)
        this.headDone = true
      } else if (this.head.length > MAX_HEAD_BYTES) {
        this.head = undefined
      }
    }
    callback()
  }

  setTimeout(): this {
    return this
  }

  setNoDelay(): this {
    return this
  }

  setKeepAlive(): this {
    return this
  }

  ref(): this {
    return this
  }

  unref(): this {
    return this
  }
}

export interface InternalRequestInit {
  url: string
  /**
   * The request that prompted it: its headers (minus hop-by-hop and
   * conditional ones) and peer address. Without it, `headers` (same filter).
   */
  from?: IncomingMessage
  /** The headers to send when there is no `from`. Default none. */
  headers?: IncomingHttpHeaders
  /**
   * `refresh` (default): a background refresh, which `isInternalRequest`
   * recognises. `plain`: a request the cache middleware treats like a
   * client's (warm-up).
   */
  mode?: 'refresh' | 'plain'
}

/** How an internal request ended: the status (0: not finished in time, or failed) and the response head. */
export interface InternalResponse {
  status: number
  /** The response headers as sent (lower-case names; repeated ones joined with `, `). */
  headers: Record<string, string>
}

/** Whether `req` is a background refresh made by `internalRequest` (not a `plain` one). */
export function isInternalRequest(req: IncomingMessage): boolean {
  return (req as { [INTERNAL]?: boolean })[INTERNAL] === true
}

/**
 * The request listener of the server that received `req` (what
 * `http.createServer(listener)` was given), or `undefined`.
 */
export function serverListener(req: IncomingMessage): RequestListener | undefined {
  const server = (req.socket as { server?: EventEmitter } | null)?.server
  const listener = server?.listeners('request')[0]
  return typeof listener === 'function' ? (listener as RequestListener) : undefined
}

/**
 * Runs a GET for `init.url` through `listener`. Resolves with the status the
 * app answered once the response is finished, or 0 when it did not finish
 * within `timeoutMs` (the response is then destroyed). Never rejects: a
 * listener that throws synchronously resolves 0 too.
 */
export function internalRequest(
  listener: RequestListener,
  init: InternalRequestInit,
  timeoutMs: number,
): Promise<number> {
  return dispatch(listener, init, timeoutMs, false).then((r) => r.status)
}

/**
 * `internalRequest`, resolving with the response's head too (what a client
 * would have seen of it: `x-cache`, say). The body still goes nowhere.
 */
export function internalExchange(
  listener: RequestListener,
  init: InternalRequestInit,
  timeoutMs: number,
): Promise<InternalResponse> {
  return dispatch(listener, init, timeoutMs, true)
}

function dispatch(
  listener: RequestListener,
  init: InternalRequestInit,
  timeoutMs: number,
  keepHead: boolean,
): Promise<InternalResponse> {
  const socket = new NullSocket(init.from?.socket ?? undefined, keepHead)
  const req = new IncomingMessage(socket as unknown as Socket)
  req.method = 'GET'
  req.url = init.url
  req.httpVersion = '1.1'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  const headers: IncomingHttpHeaders = {}
  const raw: string[] = []
  for (const [name, value] of Object.entries(init.from?.headers ?? init.headers ?? {})) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue
    headers[name] = value as string & string[]
    for (const v of Array.isArray(value) ? value : [value]) raw.push(name, v)
  }
  req.headers = headers
  req.rawHeaders = raw
  req.complete = true
  req.push(null)
  if (init.mode !== 'plain') (req as { [INTERNAL]?: boolean })[INTERNAL] = true
  const res = new ServerResponse(req)
  res.assignSocket(socket as unknown as Socket)

  return new Promise<InternalResponse>((resolve) => {
    let done = false
    const finish = (status: number) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({
        status,
        headers: status !== 0 && socket.headDone ? parseHead(socket.head ?? '') : {},
      })
    }
    const timer = setTimeout(() => {
      finish(0)
      res.destroy()
      socket.destroy()
    }, timeoutMs)
    timer.unref()
    res.once('finish', () => {
      finish(res.statusCode)
      res.detachSocket(socket as unknown as Socket)
      socket.destroy()
    })
    res.once('close', () => finish(res.writableFinished ? res.statusCode : 0))
    try {
      listener(req, res)
    } catch {
      finish(0)
      socket.destroy()
    }
  })
}

/** The header fields of a response head (`HTTP/1.1 200 OK\r\nname: value...`). */
function parseHead(head: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = head.split('\r\n')
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`
  }
  return out
}
