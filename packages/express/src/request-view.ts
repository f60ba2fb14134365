import type { IncomingMessage } from 'node:http'
import { withQuery } from '@cachet/core/adapter'

type ExpressRequest = IncomingMessage & {
  originalUrl?: string
  query?: unknown
  app?: { get(setting: string): unknown }
}

/**
 * Gives the route of a miss only the keyed query parameters (core chose
 * them): in `req.url`, `req.originalUrl` and, on Express 4, which parsed it
 * already, `req.query`.
 */
export function narrowView(req: IncomingMessage, query: string): void {
  const r = req as ExpressRequest
  r.url = withQuery(r.url ?? '/', query)
  if (r.originalUrl !== undefined) r.originalUrl = withQuery(r.originalUrl, query)
  // Express 5 parses req.query from req.url on every read; Express 4 kept what it parsed.
  const own = Object.getOwnPropertyDescriptor(r, 'query')
  if (own?.writable) {
    const parse = r.app?.get('query parser fn')
    r.query = typeof parse === 'function' ? parse(query) : {}
  }
}
