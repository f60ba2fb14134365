import { CachetConfigError } from '@cachet/core'
import { type AdminOptions, type AdminSource, createAdmin, readJsonBody } from '@cachet/core/admin'
import type { Middleware } from 'koa'

export interface KoaAdminOptions extends AdminOptions {
  /** Where the admin API lives; default `/admin/cache`. `/` hands it every path (under koa-mount, say). */
  prefix?: string
}

/**
 * `app.use(adminMiddleware(cache, { tokens, prefix: '/admin/cache' }))`: the
 * admin API (stats, invalidate, explain, health) behind a bearer token, and
 * the dashboard page at the prefix itself; other paths go on to `next`.
 * Reads its own JSON body (at most 64 KiB) unless a body parser ran first.
 * Throws a `CachetConfigError` without a token.
 */
export function adminMiddleware(cache: AdminSource, options: KoaAdminOptions): Middleware {
  const prefix = checkPrefix(options?.prefix ?? '/admin/cache')
  const admin = createAdmin(cache, options)
  return async function cachetAdmin(ctx, next) {
    const path = ctx.path
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return next()
    const rest = path.slice(prefix.length) || '/'
    const answer = await admin.handle({
      method: ctx.method,
      url: ctx.querystring === '' ? rest : `${rest}?${ctx.querystring}`,
      authorization: ctx.get('Authorization') || undefined,
      body: () => readJsonBody(ctx.req, (ctx.request as { body?: unknown }).body),
    })
    ctx.status = answer.status
    ctx.set(answer.headers)
    ctx.body = answer.body
  }
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || /[?#]/.test(prefix)) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `admin: option "prefix": expected a path starting with "/", got ${typeof prefix === 'string' ? JSON.stringify(prefix) : String(prefix)}`,
    )
  }
  return prefix.replace(/\/+$/, '')
}
