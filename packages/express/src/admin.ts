import type { IncomingMessage, ServerResponse } from 'node:http'
import { type AdminOptions, type AdminSource, createAdmin, readJsonBody } from '@cachet/core/admin'

type Next = (err?: unknown) => void

/** An Express handler for the admin API; mount it at a path. */
export type ExpressAdminRouter = (req: IncomingMessage, res: ServerResponse, next: Next) => void

/**
 * `app.use('/admin/cache', adminRouter(cache, { tokens }))`: the admin API
 * (stats, invalidate, explain, health) behind a bearer token, and the
 * dashboard page at the mount point itself. Express strips the mount path,
 * so the router sees `/stats`; mounted without a path it would guard every
 * route of the app. Reads its own JSON body (at most 64 KiB) unless a body
 * parser ran first. Throws a `CachetConfigError` without a token.
 */
export function adminRouter(cache: AdminSource, options: AdminOptions): ExpressAdminRouter {
  const admin = createAdmin(cache, options)
  return function cachetAdmin(req, res, next) {
    admin
      .handle({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        authorization: req.headers.authorization,
        body: () => readJsonBody(req, (req as { body?: unknown }).body),
      })
      .then((answer) => {
        res.writeHead(answer.status, answer.headers)
        res.end(answer.body)
      }, next)
  }
}
