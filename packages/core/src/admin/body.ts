import type { IncomingMessage } from 'node:http'

/** The largest `POST /invalidate` body read: a target is a few tags, a pattern and a user. */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024

/** Past the limit, the rest of a body is read and dropped up to this, so the client sees the 413. */
const MAX_DISCARDED_BYTES = 1024 * 1024

/** A request body the admin API cannot use; answered with `status`. */
export class AdminBodyError extends Error {
  readonly status: 400 | 413
  /** Whether the connection must close: the rest of the body was left unread. */
  readonly close: boolean

  constructor(status: 400 | 413, message: string, close = false) {
    super(message)
    this.name = 'AdminBodyError'
    this.status = status
    this.close = close
  }
}

/**
 * The request's JSON body. When a body parser already consumed the stream,
 * what it parsed (`parsed`: Express's `req.body`, Koa's `ctx.request.body`)
 * is used; otherwise the stream is read here, up to `MAX_ADMIN_BODY_BYTES`.
 * The content type is not checked: the API is authenticated by a bearer
 * header, which a cross-site form cannot send, so there is nothing for a
 * content-type check to protect.
 */
export async function readJsonBody(req: IncomingMessage, parsed?: unknown): Promise<unknown> {
  if (req.readableDidRead || req.readableEnded) {
    if (parsed !== undefined) return parsed
    throw new AdminBodyError(
      400,
      'the request body was consumed before the admin API could read it',
    )
  }
  const declared = Number(req.headers['content-length'])
  const text = declared > MAX_ADMIN_BODY_BYTES ? undefined : await readText(req)
  if (text === undefined) {
    // Like Express's own error handler: read the rest before answering, so
    // that the client, still sending, gets the 413 rather than a reset.
    const drained = await discard(req)
    const message = `the request body is larger than ${MAX_ADMIN_BODY_BYTES} bytes`
    throw new AdminBodyError(413, message, !drained)
  }
  if (text.trim() === '') {
    throw new AdminBodyError(
      400,
      'expected a JSON body { tags?, pattern?, user?, tenant? }, got none',
    )
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new AdminBodyError(
      400,
      'expected a JSON body { tags?, pattern?, user?, tenant? }, got invalid JSON',
    )
  }
}

/** The body as text; `undefined` as soon as it is past the limit (the rest is left unread). */
function readText(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let bytes = 0
    const stop = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= MAX_ADMIN_BODY_BYTES) chunks.push(chunk)
      else {
        stop()
        req.pause()
        resolve(undefined)
      }
    }
    const onEnd = () => {
      stop()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onError = (err: Error) => {
      stop()
      reject(err)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

/** Reads and drops the rest of the body; `false` when it is longer than `MAX_DISCARDED_BYTES`. */
function discard(req: IncomingMessage): Promise<boolean> {
  if (req.readableEnded) return Promise.resolve(true)
  return new Promise((resolve) => {
    let bytes = 0
    const finish = (drained: boolean) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      if (!drained) req.pause()
      resolve(drained)
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes > MAX_DISCARDED_BYTES) finish(false)
    }
    const onEnd = () => finish(true)
    const onError = () => finish(false)
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.resume()
  })
}
