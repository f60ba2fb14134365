import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { createGunzip, createInflate } from 'node:zlib'
import { type BodyError, bodyErrorFrom } from '@cachet/shop-common'

// The shop's JSON body parser for Fastify, which accepts the bodies Express's
// express.json() and Koa's bodyparser accept, and fails the same way: a bad
// body is not an error thrown by Fastify but a `BodyError` the origin answers
// in JSON (400 invalid, 413 too large, 415 an encoding or charset it cannot
// read). Strict, as both are: the top level is an object or an array; an
// empty body reads as `{}`.

export type ParsedBody = { body: unknown } | { error: BodyError }

/** "100kb" → bytes, as the `bytes` package that express.json() uses reads it (1 kb = 1024 bytes). */
export function byteLimit(limit: string): number {
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(limit.trim())
  if (m === null) throw new Error(`expected a size such as "100kb", got ${JSON.stringify(limit)}`)
  const unit = (m[2] ?? 'b').toLowerCase()
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1)
}

const failed = (status: number): ParsedBody => ({ error: bodyErrorFrom({ status }) })

/** The body as the route sees it, read from `payload` to at most `limit` decoded bytes. */
export async function readJson(
  payload: Readable,
  headers: IncomingHttpHeaders,
  limit: number,
): Promise<ParsedBody> {
  const charset = /;\s*charset=("?)([^";]+)\1/i.exec(headers['content-type'] ?? '')?.[2]
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) return drained(payload, failed(415))
  const encoding = (headers['content-encoding'] ?? 'identity').toLowerCase()
  let source: Readable
  if (encoding === 'identity') source = payload
  else if (encoding === 'gzip') source = payload.pipe(createGunzip())
  else if (encoding === 'deflate') source = payload.pipe(createInflate())
  else return drained(payload, failed(415))
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of source) {
      size += (chunk as Buffer).length
      if (size > limit) return drained(payload, failed(413))
      chunks.push(chunk as Buffer)
    }
  } catch {
    return drained(payload, failed(400))
  }
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text === '') return { body: {} }
  if (text[0] !== '{' && text[0] !== '[') return failed(400)
  try {
    return { body: JSON.parse(text) }
  } catch {
    return failed(400)
  }
}

// Reads the rest of a rejected body, so that the client, still sending, gets
// the answer rather than a reset.
function drained(payload: Readable, result: ParsedBody): ParsedBody {
  payload.resume()
  return result
}
