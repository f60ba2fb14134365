import { handleRequest, serverListener } from '@cachet/core/adapter'
import type { FastifyInstance } from 'fastify'
import type { CacheParts } from './cache'
import { FastifyPort, pending } from './port'
import { sendMiss, sendWrite } from './send'
import { HeadRoutes } from './view'

/** The status of an error a route threw, when it is a failure's own (500 or more); else 0. */
function thrownStatus(error: unknown): number {
  const e = error as { statusCode?: unknown; status?: unknown } | null
  const status = e?.statusCode ?? e?.status
  return typeof status === 'number' && status >= 500 && status <= 599 ? status : 0
}

/**
 * The cache's hooks on `fastify` (the context the plugin was registered in):
 * `onRequest` runs core's flow before the body is parsed, validated or
 * handed to the route, and answers hits there; `onSend` records a miss's
 * serialized reply, or holds a write's; `onError` notes a thrown error, so
 * that its answer is replaced by a stale copy or never stored; `onRoute`
 * learns which HEAD routes run a GET handler (see `HeadRoutes`).
 */
export function addCacheHooks(fastify: FastifyInstance, parts: CacheParts): void {
  const heads = new HeadRoutes()
  let seen = false
  parts.listener ??= (req, res) => fastify.routing(req, res)

  fastify.addHook('onRoute', function cachetRoute(route) {
    heads.add(route)
  })

  fastify.addHook('onRequest', function cachetRequest(request, reply, done) {
    if (!seen) {
      seen = true
      parts.listener = serverListener(request.raw) ?? parts.listener
    }
    const decided = handleRequest(parts.engine, new FastifyPort(request, reply, parts, heads))
    if (decided instanceof Promise) decided.then(() => done(), done)
    else done()
  })

  fastify.addHook('onError', function cachetError(request, _reply, error, done) {
    const miss = pending.get(request)
    if (miss?.kind === 'miss') miss.thrown = thrownStatus(error)
    done()
  })

  fastify.addHook('onSend', function cachetSend(request, reply, payload, done) {
    const work = pending.get(request)
    if (work === undefined) {
      done(null, payload)
      return
    }
    // Once: a later hook's error sends an error reply through `onSend` again.
    pending.delete(request)
    const next =
      work.kind === 'miss'
        ? sendMiss(work, request, reply, payload)
        : sendWrite(work.write, request, reply, payload)
    if (next instanceof Promise) next.then((p) => done(null, p), done)
    else done(null, next)
  })
}
