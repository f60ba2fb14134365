import { internalError, type OriginResponse, type OriginRoute } from '@cachet/shop-common'
import type { Request, Response } from 'express'

// Writes a shop-common answer with Express's own calls (`res.json`, `res.send`,
// `res.write`), the ones a cache adapter for Express has to capture.

export async function sendAnswer(
  req: Request,
  res: Response,
  answer: OriginResponse,
): Promise<void> {
  res.status(answer.status)
  switch (answer.kind) {
    case 'json':
      if (answer.headers !== undefined) res.set(answer.headers)
      res.json(answer.body)
      return
    case 'bytes':
      res.type(answer.contentType).send(answer.body)
      return
    case 'stream':
      res.setHeader('Content-Type', answer.contentType)
      // No body goes out for HEAD; producing up to 100 MB of chunks to have Node
      // discard them would only waste the origin's time.
      if (req.method === 'HEAD') res.end()
      else await writeChunks(res, answer.chunks())
      return
    case 'empty':
      res.end()
      return
  }
}

// A handler that threw: 500 JSON if nothing was sent yet, else cut the response
// so the client sees a truncated body rather than a complete-looking one.
export function sendFailure(req: Request, res: Response, route: OriginRoute, err: unknown): void {
  console.error(`${route.key} failed:`, err)
  if (res.headersSent) res.destroy()
  else void sendAnswer(req, res, internalError())
}

// One `res.write` per chunk, so the response really is a stream (chunked, no
// Content-Length). Waits for 'drain' whenever `write` says the buffer is full,
// and stops if the client goes away, so a slow reader never makes the process
// buffer the whole stream.
async function writeChunks(res: Response, chunks: Iterable<Buffer>): Promise<void> {
  let closed = false
  res.once('close', () => {
    closed = true
  })
  for (const chunk of chunks) {
    if (closed) return
    if (!res.write(chunk)) await drained(res)
  }
  if (!closed) res.end()
}

// Resolves on 'drain', or on 'close' when the connection ends first and no
// 'drain' will ever come.
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
