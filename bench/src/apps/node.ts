import type { IncomingMessage, ServerResponse } from 'node:http'
import { ROUTE } from '../shared'
import { originBody, readConfig, serve } from './harness'

// The node:http anchor: a precomputed buffer, no framework, no cache.

readConfig()

function handler(req: IncomingMessage, res: ServerResponse): void {
  const m = ROUTE.exec(req.url ?? '/')
  const body = m ? originBody(m[1] as string, m[2] as string) : undefined
  if (body === undefined) {
    res.writeHead(404, { 'content-length': 0 })
    res.end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
  res.end(body)
}

void serve(handler)
