import type { ServerResponse } from 'node:http'
import type { HeldWrite, WriteResponse } from '@cachet/core/adapter'

type Method = (...args: unknown[]) => unknown

/**
 * Holds a write's response until its invalidation is done, so that a client
 * who sees the 2xx and reads again never gets the old version. The first of
 * `writeHead` / `write` / `end` decides: a non-2xx passes straight through; a
 * 2xx starts `invalidate()` (told the response's `Location` and
 * `Content-Location`) and queues the calls, replayed in order once it
 * resolves. If it rejects, the held response is replaced by a 503: the write
 * happened, but the cache could not make the old version unreachable, and the
 * client must not be told all is well.
 */
/**
 * The response fields an unsafe method's invalidation reads (`Location`,
 * `Content-Location`): set on `res`, or passed to `writeHead`.
 */
function writeResponse(res: ServerResponse, writeHeadArgs: unknown[] | undefined): WriteResponse {
  const out: { location?: string; 'content-location'?: string } = {}
  const take = (name: string, value: unknown) => {
    const n = name.toLowerCase()
    if ((n === 'location' || n === 'content-location') && value != null) out[n] = String(value)
  }
  for (const name of ['location', 'content-location']) take(name, res.getHeader(name))
  const headers =
    writeHeadArgs === undefined
      ? undefined
      : typeof writeHeadArgs[1] === 'string'
        ? writeHeadArgs[2]
        : writeHeadArgs[1]
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) take(String(headers[i]), headers[i + 1])
  } else if (headers !== null && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers)) take(name, value)
  }
  return out
}

export function holdUntilInvalidated(res: ServerResponse, write: HeldWrite): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end } as Record<
    string,
    Method
  >
  let state: 'idle' | 'holding' | 'released' = 'idle'
  const queue: Array<[string, unknown[]]> = []

  const release = () => {
    state = 'released'
    for (const [name, args] of queue) (original[name] as Method).apply(res, args)
    queue.length = 0
  }

  const fail = (err: unknown) => {
    state = 'released'
    queue.length = 0
    res.emit('cachet:invalidation-error', err)
    if (res.headersSent) {
      res.destroy(err instanceof Error ? err : new Error(String(err)))
      return
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    const { status, headers, body } = write.failure
    res.statusCode = status
    for (let i = 0; i + 1 < headers.length; i += 2)
      res.setHeader(headers[i] as string, headers[i + 1] as string)
    res.end(body)
  }

  const gate = (name: string) =>
    function cachetHold(this: ServerResponse, ...args: unknown[]) {
      // Once released, the wrappers stay in place (middleware mounted after
      // this one may have wrapped them in turn) and pass straight through.
      if (state === 'released') return (original[name] as Method).apply(res, args)
      if (state === 'idle') {
        const status = name === 'writeHead' ? Number(args[0]) : res.statusCode
        if (!write.holds(status)) {
          state = 'released'
          return (original[name] as Method).apply(res, args)
        }
        state = 'holding'
        const response = writeResponse(res, name === 'writeHead' ? args : undefined)
        write.invalidate(response).then(release, fail)
      }
      queue.push([name, args])
      return name === 'write' ? true : res
    }

  res.writeHead = gate('writeHead') as ServerResponse['writeHead']
  res.write = gate('write') as ServerResponse['write']
  res.end = gate('end') as ServerResponse['end']
}
