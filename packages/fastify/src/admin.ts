import { CachetConfigError } from '@cachet/core'
import { type AdminOptions, type AdminSource, createAdmin, readJsonBody } from '@cachet/core/admin'
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'

export interface FastifyAdminOptions extends AdminOptions {
  /** Where the admin API lives; default `/admin/cache`. */
  prefix?: string
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || /[?#*:]/.test(prefix)) {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `admin: option "prefix": expected a path starting with "/" (no "?", "#", "*" or ":"), got ${typeof prefix === 'string' ? JSON.stringify(prefix) : String(prefix)}`,
    )
  }
  return prefix.replace(/\/+$/, '')
}

/**
 * `app.register(adminPlugin(app.cache, { tokens, prefix: '/admin/cache' }))`:
 * the admin API (stats, invalidate, explain, health) behind a bearer token,
 * and the dashboard page at the prefix itself, as routes of their own
 * context. The API reads its own JSON body (at most 64 KiB): in that context
 * every content type reaches it unparsed. Throws a `CachetConfigError`
 * without a token.
 */
export function adminPlugin(
  cache: AdminSource,
  options: FastifyAdminOptions,
): FastifyPluginCallback {
  const prefix = checkPrefix(options?.prefix ?? '/admin/cache')
  const admin = createAdmin(cache, options)

  async function cachetAdmin(request: FastifyRequest, reply: FastifyReply) {
    const url = request.raw.url ?? '/'
    const rest = url.slice(prefix.length) || '/'
    const answer = await admin.handle({
      method: request.method,
      url: rest.startsWith('?') ? `/${rest}` : rest,
      authorization: request.headers.authorization,
      body: () => readJsonBody(request.raw),
    })
    reply.code(answer.status).headers(answer.headers)
    return reply.send(answer.body)
  }

  return function adminRoutes(fastify, _options, done) {
    // The admin API reads and limits its body itself.
    fastify.removeAllContentTypeParsers()
    fastify.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null, undefined))
    const routes = prefix === '' ? ['/', '/*'] : [prefix, `${prefix}/*`]
    for (const url of routes) fastify.all(url, cachetAdmin)
    done()
  }
}
