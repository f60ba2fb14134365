import type { OutgoingHttpHeaders } from 'node:http'
import type { Replay, ResponseHeaders } from '@cachet/core/adapter'
import type { FastifyReply } from 'fastify'

// Fastify keeps a reply's headers on the reply (`reply.header()`) until it
// writes them, and a few on `reply.raw` (set there by code that works on the
// Node response). These views give core both, as one set.

/** Every header set so far, on the reply and under it, names in lower case. */
export function allHeaders(reply: FastifyReply): OutgoingHttpHeaders {
  // Fastify types header values as `number` too, as Node stores them.
  return reply.getHeaders() as OutgoingHttpHeaders
}

/** Removes a header from the reply and from the Node response under it. */
function removeHeader(reply: FastifyReply, name: string): void {
  reply.removeHeader(name)
  reply.raw.removeHeader(name)
}

/** Core's `ResponseHeaders` over a Fastify reply. */
export function replyHeaders(reply: FastifyReply): ResponseHeaders {
  return {
    get: (name) => reply.getHeader(name),
    set: (name, value) => {
      reply.header(name, value)
    },
    remove: (name) => removeHeader(reply, name),
    all: () => allHeaders(reply),
  }
}

/** Removes every header set so far. */
export function clearHeaders(reply: FastifyReply): void {
  for (const name of Object.keys(reply.getHeaders())) removeHeader(reply, name)
}

/** Puts a response the cache made on the reply: its status, and its headers (repeated names as lists). */
export function putReplay(reply: FastifyReply, r: Replay): void {
  reply.code(r.status)
  const grouped = new Map<string, string[]>()
  for (let i = 0; i + 1 < r.headers.length; i += 2) {
    const name = (r.headers[i] as string).toLowerCase()
    const values = grouped.get(name)
    if (values === undefined) grouped.set(name, [r.headers[i + 1] as string])
    else values.push(r.headers[i + 1] as string)
  }
  for (const [name, values] of grouped) reply.header(name, values.length === 1 ? values[0] : values)
}

/** A header's value as one string, for the fields a write's invalidation reads. */
export function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}
