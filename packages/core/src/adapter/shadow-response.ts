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
  answer(response: Replay): void
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
  let told = false
  let finished = res.finished
  const headers: Headers = Object.create(null)

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
  Object.defineProperty(res, 'finished', {
    configurable: true,
    get: () => (answered ? ended : finished),
    set: (value: boolean) => {
      finished = value
    },
  })
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
    if (!ended) {
      sent = true
      ended = true
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
      // The client's response: only those who listened before the shadow.
      for (const l of this.rawListeners(event))
        if (before[event].has(l)) (l as Listener).apply(this, args)
      return true
    },
  })

  /** The route's response is done: its own `finish` and `close` listeners. */
  function tell(): void {
    if (told) return
    told = true
    for (const event of ['finish', 'close'] as const)
      for (const l of res.rawListeners(event))
        if (!before[event].has(l)) (l as Listener).apply(res, [])
  }

  return {
    get answered() {
      return answered
    },
    answer(response) {
      const status = res.statusCode
      const set = real.getHeaders.call(res) as OutgoingHttpHeaders
      for (const name of Object.keys(set)) real.removeHeader.call(res, name)
      real.writeHead.call(res, response.status, response.headers)
      real.end.call(res, response.body)
      for (const [name, value] of Object.entries(set))
        if (value !== undefined) headers[name] = value
      // What the route set is its own answer's: the status too.
      res.statusCode = status
      answered = true
    },
    end() {
      ended = true
      tell()
    },
  }
}
