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
 * writes is captured by the cache and discarded. Used for the background
 * refresh of stale-while-revalidate.
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

/** A socket whose writes are dropped and that never reads: the response goes nowhere. */
class NullSocket extends Duplex {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly encrypted: boolean | undefined

  constructor(from: Socket | undefined) {
    super()
    this.remoteAddress = from?.remoteAddress
    this.remotePort = from?.remotePort
    this.remoteFamily = from?.remoteFamily
    // Express's req.protocol and Koa's ctx.protocol read this.
    this.encrypted = (from as { encrypted?: boolean } | undefined)?.encrypted
  }

  override _read(): void {}

  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
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
  /** The request that prompted it: its headers (minus hop-by-hop and conditional ones) and peer address. */
  from: IncomingMessage
}

/** Whether `req` is an internal request made by `internalRequest`. */
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
  const socket = new NullSocket(init.from.socket ?? undefined)
  const req = new IncomingMessage(socket as unknown as Socket)
  req.method = 'GET'
  req.url = init.url
  req.httpVersion = '1.1'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  const headers: IncomingHttpHeaders = {}
  const raw: string[] = []
  for (const [name, value] of Object.entries(init.from.headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue
    headers[name] = value as string & string[]
    for (const v of Array.isArray(value) ? value : [value]) raw.push(name, v)
  }
  req.headers = headers
  req.rawHeaders = raw
  req.complete = true
  req.push(null)
  ;(req as { [INTERNAL]?: boolean })[INTERNAL] = true
  const res = new ServerResponse(req)
  res.assignSocket(socket as unknown as Socket)

  return new Promise<number>((resolve) => {
    let done = false
    const finish = (status: number) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve(status)
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
