import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http'
import https from 'node:https'

/** Hop-by-hop fields (RFC 9110 §7.6.1): a proxy never forwards them, either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** The end-to-end fields of a message: without hop-by-hop ones and those `Connection` names. */
export function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((n) => n.trim().toLowerCase()),
  )
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue
    out[name] = value
  }
  return out
}

export interface ForwardOptions {
  /** How long the upstream may stay silent before the request fails with 504. Default 30 s. */
  timeoutMs?: number
}

/**
 * A request handler that forwards every request — any method, its end-to-end
 * headers, its body (streamed) — to `origin`, and streams the upstream's
 * status, end-to-end headers and body back. The request target is sent as
 * received (no dot-segment normalisation), under the origin URL's own path.
 * An unreachable upstream is a 502, a silent one a 504.
 */
export function forwarder(
  origin: URL,
  options: ForwardOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const transport = origin.protocol === 'https:' ? https : http
  const prefix = origin.pathname.replace(/\/$/, '')
  const timeout = options.timeoutMs ?? 30_000
  return function forward(req, res) {
    const target = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/'
    const upstream = transport.request({
      protocol: origin.protocol,
      hostname: origin.hostname,
      port: origin.port,
      method: req.method,
      path: `${prefix}${target}`,
      headers: { ...endToEnd(req.headers), host: origin.host },
      timeout,
    })
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers))
      answer.pipe(res)
      answer.on('error', (err) => res.destroy(err))
    })
    upstream.on('timeout', () =>
      upstream.destroy(Object.assign(new Error('timeout'), { gatewayTimeout: true })),
    )
    upstream.on('error', (err: Error & { gatewayTimeout?: boolean }) => {
      if (res.headersSent) {
        res.destroy(err)
        return
      }
      const status = err.gatewayTimeout === true ? 504 : 502
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(
        JSON.stringify({ error: status === 504 ? 'upstream timed out' : 'upstream unreachable' }),
      )
    })
    // The client went away: so does the upstream request.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    req.pipe(upstream)
  }
}
