import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Replay } from '../engine/replay'

/**
 * A Node response the cache can answer while its route runs on (the rule's
 * `originTimeout`): `answer(replay)` sends the replay to the client with
 * the response's own methods, as they were when the shadow was installed,
 * and from then on the response is a shadow for the route. Its headers go
 * into a map of their own (`headersSent`, `writableEnded` tell the shadow's
 * state, so the framework goes on as if nothing was sent); `writeHead`,
 * `write` and `end` reach the adapter's capture above and go no further.
 * `finish` and `close` reach the listeners added before the shadow was
 * installed (the server's, the outer layers') when the client's response
 * ends, and those added after (the capture's, the framework's) when the
 * route's does. Until `answer`, everything passes through.
 */
export interface ShadowResponse {
  /** Whether the client has been answered by the cache. */
  readonly answered: boolean
  /** Sends `response` to the client, with `outer` (the headers of the layers before the cache). */
  answer(response: Replay, outer?: OutgoingHttpHeaders): void
  /** The route's response ended (or was given up): its `finish` and `close` listeners are told. */
  end(): void
}

type Listener = (...args: unknown[]) => unknown
type Method = (...args: unknown[]) => unknown
type Headers = Record<string, OutgoingHttpHeader>

/** Node's own `headersSent` (a header block was made), which the shadow's stands in for. */
function headersSentOf(res: ServerResponse): boolean {
  return (res as unknown as { _header: unknown })._header != null
}

/** Adds `value` under `name` (the header's values so far, then this one). */
function append(headers: Headers, name: string, value: OutgoingHttpHeader): void {
  const before = headers[name]
  if (before === undefined) headers[name] = value
  else {
    const list = (Array.isArray(before) ? before : [String(before)]) as string[]
    headers[name] = list.concat(Array.isArray(value) ? value.map(String) : String(value))
  }
}

/** `writeHead`'s headers (an object, or a flat `[name, value, …]` list) into the shadow's map. */
function absorb(headers: Headers, given: unknown): void {
  if (Array.isArray(given)) {
    for (let i = 0; i + 1 < given.length; i += 2)
      append(headers, String(given[i]).toLowerCase(), String(given[i + 1]))
  } else if (given !== null && typeof given === 'object') {
    for (const [name, value] of Object.entries(given as OutgoingHttpHeaders))
      if (value !== undefined) headers[name.toLowerCase()] = value
  }
}

function later(args: readonly unknown[]): void {
  const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined
  if (callback !== undefined) process.nextTick(callback)
}

/**
 * A data property of `target` that reads `shadow()` once the client was
 * answered, and its own value (kept here, so that Node's internals still
 * set it) before.
 */
function shadowed<T>(target: object, name: string, answered: () => boolean, shadow: () => T): void {
  let value = (target as Record<string, unknown>)[name] as T
  Object.defineProperty(target, name, {
    configurable: true,
    get: () => (answered() ? shadow() : value),
    set: (v: T) => {
      value = v
    },
  })
}

export function shadowResponse(res: ServerResponse): ShadowResponse {
  const own = res as unknown as Record<string, Method>
  const real = {
    writeHead: own.writeHead as Method,
    end: own.end as Method,
    emit: own.emit as Method,
    getHeaders: own.getHeaders as Method,
    removeHeader: own.removeHeader as Method,
  }
  const before = {
    finish: new Set(res.rawListeners('finish')),
    close: new Set(res.rawListeners('close')),
  }
  let answered = false
  let sent = false
  let ended = false
  let destroyed = false
  let told = false
  /** The status the client got, for the listeners of its response (see `emit`). */
  let clientStatus = 0
  const headers: Headers = Object.create(null)
  const isAnswered = () => answered

  /** Each method: the shadow's once the client was answered, else the response's own. */
  const override = (name: string, shadow: Method) => {
    const original = own[name] as Method
    Object.defineProperty(res, name, {
      configurable: true,
      writable: true,
      value: function (this: ServerResponse, ...args: unknown[]) {
        return answered ? shadow.apply(this, args) : original.apply(this, args)
      },
    })
  }
  // The state a framework, a pipeline or `stream.finished` reads: the
  // shadow's once the client was answered (`writableEnded`, `writableFinished`
  // and `closed` are getters over these).
  shadowed(res, 'finished', isAnswered, () => ended)
  shadowed(res, 'destroyed', isAnswered, () => destroyed)
  shadowed(res, '_closed', isAnswered, () => told)
  shadowed(res, 'writable', isAnswered, () => !ended && !destroyed)
  Object.defineProperty(res, 'headersSent', {
    configurable: true,
    get(this: ServerResponse) {
      return answered ? sent : headersSentOf(this)
    },
  })
  override('setHeader', function (this: ServerResponse, name, value) {
    headers[String(name).toLowerCase()] = value as OutgoingHttpHeader
    return this
  })
  override('appendHeader', function (this: ServerResponse, name, value) {
    append(headers, String(name).toLowerCase(), value as OutgoingHttpHeader)
    return this
  })
  override('getHeader', (name) => headers[String(name).toLowerCase()])
  override('getHeaders', () => Object.assign(Object.create(null), headers))
  override('getHeaderNames', () => Object.keys(headers))
  override('getRawHeaderNames', () => Object.keys(headers))
  override('hasHeader', (name) => headers[String(name).toLowerCase()] !== undefined)
  override('removeHeader', (name) => {
    delete headers[String(name).toLowerCase()]
  })
  override('flushHeaders', () => {
    sent = true
  })
  override('writeHead', function (this: ServerResponse, status, ...rest) {
    this.statusCode = status as number
    absorb(headers, typeof rest[0] === 'string' ? rest[1] : rest[0])
    sent = true
    return this
  })
  override('write', (...args) => {
    sent = true
    later(args)
    return true
  })
  override('end', function (this: ServerResponse, ...args) {
    later(args)
    if (!ended && !destroyed) {
      sent = true
      ended = true
      process.nextTick(tell)
    }
    return this
  })
  // The route's response cut off (a failed stream, an error after its
  // headers): its listeners hear `close` without `finish`, as from a
  // destroyed response; the client's connection is not touched.
  override('destroy', function (this: ServerResponse) {
    if (!ended && !destroyed) {
      destroyed = true
      process.nextTick(tell)
    }
    return this
  })
  Object.defineProperty(res, 'emit', {
    configurable: true,
    writable: true,
    value(this: ServerResponse, event: string | symbol, ...args: unknown[]) {
      if (!answered || (event !== 'finish' && event !== 'close'))
        return real.emit.call(this, event, ...args)
      // The client's response: only those who listened before the shadow,
      // and they see the status the client got.
      const routeStatus = this.statusCode
      this.statusCode = clientStatus
      try {
        for (const l of this.rawListeners(event))
          if (before[event].has(l)) (l as Listener).apply(this, args)
      } finally {
        this.statusCode = routeStatus
      }
      return true
    },
  })

  /** The route's response is done: its own `finish` (unless it was cut off) and `close` listeners. */
  function tell(): void {
    if (told) return
    told = true
    for (const event of destroyed ? (['close'] as const) : (['finish', 'close'] as const))
      for (const l of res.rawListeners(event))
        if (!before[event].has(l)) (l as Listener).apply(res, [])
  }

  /**
   * The request's socket, for the route once the client was answered: the
   * connection may carry the client's next request by then, so what would
   * destroy it (finalhandler after an error once the route's headers went
   * into the shadow) cuts off the shadow instead.
   */
  function shadowSocket(): void {
    const req = (res as ServerResponse & { req?: object }).req
    const socket = res.socket
    if (req === undefined || socket === null) return
    const stand = new Proxy(socket, {
      get(target, name) {
        if (name === 'destroy') return () => (res as unknown as { destroy(): void }).destroy()
        const value = Reflect.get(target, name, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    shadowed(req, 'socket', isAnswered, () => stand)
  }

  return {
    get answered() {
      return answered
    },
    answer(response, outer = {}) {
      const status = res.statusCode
      const set = real.getHeaders.call(res) as OutgoingHttpHeaders
      for (const name of Object.keys(set)) real.removeHeader.call(res, name)
      // The outer layers' headers (CORS, a request id) go out with the copy, as on a hit.
      const flat: string[] = []
      const own = new Set(response.headers.filter((_, i) => i % 2 === 0))
      for (const [name, value] of Object.entries(outer)) {
        if (value === undefined || own.has(name)) continue
        for (const v of Array.isArray(value) ? value : [value]) flat.push(name, String(v))
      }
      real.writeHead.call(res, response.status, [...flat, ...response.headers])
      real.end.call(res, response.body)
      for (const [name, value] of Object.entries(set))
        if (value !== undefined) headers[name] = value
      // What the route set is its own answer's: the status too.
      clientStatus = response.status
      res.statusCode = status
      shadowSocket()
      answered = true
    },
    end() {
      if (!ended && !destroyed) destroyed = true
      tell()
    },
  }
}
