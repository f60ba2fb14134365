import { Readable } from 'node:stream'
import { internalError, type OriginResponse, type OriginRoute } from '@cachet/shop-common'
import type { Context } from 'koa'

// Writes a shop-common answer the Koa way, by setting `ctx.status`, headers and
// `ctx.body` (object, Buffer or stream): the body kinds a cache adapter for Koa
// has to capture.

export function sendAnswer(ctx: Context, answer: OriginResponse): void {
  ctx.status = answer.status
  switch (answer.kind) {
    case 'json':
      if (answer.headers !== undefined) ctx.set(answer.headers)
      ctx.body = answer.body
      return
    case 'bytes':
      // The type first: Koa only guesses one when none is set.
      ctx.type = answer.contentType
      ctx.body = answer.body
      return
    case 'stream':
      ctx.type = answer.contentType
      // A stream that yields each chunk as Koa pipes it (honouring backpressure),
      // so the body really is a stream: chunked, no Content-Length. Koa never
      // reads it for HEAD.
      ctx.body = Readable.from(answer.chunks())
      return
    case 'empty':
      return
  }
}

// A handler that threw: 500 JSON if nothing was sent yet, else cut the response
// so the client sees a truncated body rather than a complete-looking one.
export function sendFailure(ctx: Context, route: OriginRoute, err: unknown): void {
  console.error(`${route.key} failed:`, err)
  if (ctx.headerSent) ctx.res.destroy()
  else sendAnswer(ctx, internalError())
}
