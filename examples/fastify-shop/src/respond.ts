import { Readable } from 'node:stream'
import { internalError, type OriginResponse, type OriginRoute } from '@cachet/shop-common'
import type { FastifyReply } from 'fastify'

// Writes a shop-common answer the Fastify way, with `reply.code()`, headers
// and `reply.send()` of an object (serialized by Fastify), a Buffer or a
// stream: the payload kinds a cache adapter for Fastify has to capture.

export function sendAnswer(reply: FastifyReply, answer: OriginResponse): FastifyReply {
  reply.code(answer.status)
  switch (answer.kind) {
    case 'json':
      if (answer.headers !== undefined) reply.headers(answer.headers)
      return reply.send(answer.body)
    case 'bytes':
      return reply.type(answer.contentType).send(answer.body)
    case 'stream':
      // A stream that yields each chunk as Fastify pipes it (honouring
      // backpressure), so the body really is a stream: chunked, no Content-Length.
      return reply.type(answer.contentType).send(Readable.from(answer.chunks()))
    case 'empty':
      return reply.send()
  }
}

// A handler that threw: 500 JSON if nothing was sent yet, else cut the response
// so the client sees a truncated body rather than a complete-looking one.
export function sendFailure(reply: FastifyReply, route: OriginRoute, err: unknown): FastifyReply {
  console.error(`${route.key} failed:`, err)
  if (reply.raw.headersSent) {
    reply.raw.destroy()
    return reply
  }
  return sendAnswer(reply, internalError())
}
