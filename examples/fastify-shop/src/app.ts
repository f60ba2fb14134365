import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { adminPlugin, cachePlugin, createCache } from '@cachet/fastify'
import {
  type BodyError,
  createOrigin,
  JSON_BODY_LIMIT,
  metricsRoute,
  notFound,
  type OriginRoute,
  resolveConfig,
  type Shop,
  type ShopConfig,
  type ShopUser,
  shopCacheOptions,
  userFromAuthorization,
} from '@cachet/shop-common'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { byteLimit, readJson } from './body'
import { sendAnswer, sendFailure } from './respond'

// The example shop of CONTRACT.md on Fastify. All behaviour lives in
// @cachet/shop-common; this file only wires it into Fastify, and never listens
// (`main.ts` does), so tests can drive `handler` behind their own server.

export type FastifyShop = Shop<FastifyInstance>

declare module 'fastify' {
  interface FastifyRequest {
    // What the cache adapter reads to key per-user rules (its default `identify`).
    user?: ShopUser
  }
}

// A body the parser rejected, for the route to answer (see body.ts).
const bodyErrors = new WeakMap<FastifyRequest, BodyError>()

export function createShop(partial: Partial<ShopConfig> = {}): FastifyShop {
  const config = resolveConfig(partial)
  const origin = createOrigin(config)
  // Made before the app boots, so that `createShop()` can hand it out at once.
  const cache = createCache(shopCacheOptions(config))

  const app = Fastify({
    // Express's and Koa's routers: paths match in any case, with or without a
    // trailing slash, with parameters of any length.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 8192 },
  })
  app.decorateRequest('user', undefined)
  // Auth comes before the cache, which needs the user to key per-user entries;
  // the body is parsed after it (Fastify parses after `onRequest`), so a cache
  // hit never reads a request body.
  app.addHook('onRequest', demoAuth)
  app.register(cachePlugin, { cache })
  // The admin API reads its own body; without CACHE_ADMIN_TOKEN its paths 404.
  if (config.adminToken !== undefined) {
    app.register(adminPlugin(cache, { tokens: { admin: config.adminToken } }))
  }
  // The routes once the cache plugin has loaded: it sees them added, and so
  // knows which handlers Fastify's HEAD routes run (a cold HEAD fills the GET entry).
  app.after(() => {
    parseBodies(app)
    for (const route of [...origin.routes, metricsRoute(cache)]) register(app, route)
    // Unknown paths answer like unknown products, in JSON, the same in every app.
    app.setNotFoundHandler(function answerNotFound(_request, reply) {
      return sendAnswer(reply, notFound())
    })
  })

  return {
    app,
    handler: lazyHandler(app),
    cache,
    state: origin.state,
    close: once(async () => {
      await app.close()
      await cache.close()
    }),
  }
}

// Sets `request.user` for a valid demo token. Never rejects: whether a route
// needs a user is the route's business (a 401 from the origin).
function demoAuth(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  const id = userFromAuthorization(request.headers.authorization)
  if (id !== undefined) request.user = { id }
  done()
}

// JSON bodies as express.json() reads them; every other type reaches the route
// unread, as in Express and Koa (Fastify would answer 415).
function parseBodies(app: FastifyInstance): void {
  const limit = byteLimit(JSON_BODY_LIMIT)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    'application/json',
    async (request: FastifyRequest, payload: Readable) => {
      const parsed = await readJson(payload, request.headers, limit)
      if ('error' in parsed) bodyErrors.set(request, parsed.error)
      return 'body' in parsed ? parsed.body : undefined
    },
  )
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))
}

function register(app: FastifyInstance, route: OriginRoute): void {
  app.route({ method: route.method, url: route.path, handler: fastifyHandler(route) })
}

function fastifyHandler(route: OriginRoute) {
  return async function originRoute(request: FastifyRequest, reply: FastifyReply) {
    try {
      const answer = await route.handle({
        params: request.params as Record<string, string>,
        query: request.query as Record<string, unknown>,
        body: request.body,
        bodyError: bodyErrors.get(request),
        user: request.user?.id,
        headers: request.headers,
        url: request.url,
      })
      return sendAnswer(reply, answer)
    } catch (err) {
      return sendFailure(reply, route, err)
    }
  }
}

// Fastify loads its plugins once, on `ready()`; doing it on the first request
// rather than here lets a test add hooks and routes to `shop.app` after
// `createShop()`.
function lazyHandler(app: FastifyInstance): (req: IncomingMessage, res: ServerResponse) => void {
  let booted = false
  let booting: Promise<void> | undefined
  return (req, res) => {
    if (booted) {
      app.routing(req, res)
      return
    }
    booting ??= Promise.resolve(app.ready()).then(() => {
      booted = true
    })
    booting.then(
      () => app.routing(req, res),
      (err: unknown) => {
        console.error('the app failed to start:', err)
        res.statusCode = 500
        res.end()
      },
    )
  }
}

function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined
  return () => {
    closing ??= close()
    return closing
  }
}
