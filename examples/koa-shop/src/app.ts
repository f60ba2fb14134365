import type { IncomingMessage, ServerResponse } from 'node:http'
import { adminMiddleware, cacheMiddleware } from '@cachet/koa'
import {
  type BodyError,
  bodyErrorFrom,
  closeOnce,
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
import { bodyParser } from '@koa/bodyparser'
import Router, { type RouterContext } from '@koa/router'
import Koa, { type Context, type Next } from 'koa'
import { sendAnswer, sendFailure } from './respond'

// The example shop of CONTRACT.md on Koa. All behaviour lives in
// @cachet/shop-common; this file only wires it into Koa, and never listens
// (`main.ts` does), so tests can drive `app.callback()` or `handler` directly.

export type KoaShop = Shop<Koa>

// What this app keeps in `ctx.state`: `user` is what the cache adapter reads to
// key per-user rules; `bodyError` carries a body the parser rejected.
interface ShopState {
  user?: ShopUser
  bodyError?: BodyError
}

export function createShop(partial: Partial<ShopConfig> = {}): KoaShop {
  const config = resolveConfig(partial)
  const origin = createOrigin(config)
  const cache = cacheMiddleware(shopCacheOptions(config))

  const app = new Koa()
  // Auth comes before the cache, which needs the user to key per-user entries;
  // body parsing comes after it, so a cache hit never reads a request body.
  app.use(demoAuth)
  app.use(cache)
  // The admin API reads its own body; without CACHE_ADMIN_TOKEN its paths 404.
  if (config.adminToken !== undefined) {
    app.use(adminMiddleware(cache, { tokens: { admin: config.adminToken } }))
  }
  app.use(
    bodyParser({
      // JSON only, with Express's limit: the two shops must accept the same bodies.
      enableTypes: ['json'],
      jsonLimit: JSON_BODY_LIMIT,
      // Hand a bad body to the route instead of throwing, so the origin answers
      // it in JSON exactly as the Express shop does.
      onError: (err, ctx) => {
        state(ctx).bodyError = bodyErrorFrom(err)
      },
    }),
  )
  const router = new Router()
  for (const route of [...origin.routes, metricsRoute(cache)]) register(router, route)
  app.use(router.routes())
  app.use(answerNotFound)

  return {
    app,
    handler: lazyCallback(app),
    cache,
    state: origin.state,
    close: closeOnce(cache),
  }
}

// Sets `ctx.state.user` for a valid demo token. Never rejects: whether a route
// needs a user is the route's business (a 401 from the origin).
async function demoAuth(ctx: Context, next: Next): Promise<void> {
  const id = userFromAuthorization(ctx.get('Authorization') || undefined)
  if (id !== undefined) state(ctx).user = { id }
  await next()
}

function register(router: Router, route: OriginRoute): void {
  const handler = koaHandler(route)
  switch (route.method) {
    case 'GET':
      router.get(route.path, handler)
      return
    case 'POST':
      router.post(route.path, handler)
      return
    case 'PUT':
      router.put(route.path, handler)
      return
  }
}

function koaHandler(route: OriginRoute) {
  return async function originRoute(ctx: RouterContext): Promise<void> {
    try {
      const answer = await route.handle({
        params: ctx.params,
        query: ctx.query,
        body: ctx.request.body,
        bodyError: state(ctx).bodyError,
        user: state(ctx).user?.id,
        headers: ctx.headers,
        url: ctx.originalUrl,
      })
      sendAnswer(ctx, answer)
    } catch (err) {
      sendFailure(ctx, route, err)
    }
  }
}

// Unknown paths answer like unknown products, in JSON, the same in both apps.
async function answerNotFound(ctx: Context): Promise<void> {
  sendAnswer(ctx, notFound())
}

// Koa's `ctx.state` is untyped; this is the one place that says what it holds.
function state(ctx: Context): ShopState {
  return ctx.state as ShopState
}

// `app.callback()` composes the middleware once; doing it on the first request
// rather than here lets a test add middleware to `shop.app` after `createShop()`.
function lazyCallback(app: Koa): (req: IncomingMessage, res: ServerResponse) => void {
  let callback: ReturnType<Koa['callback']> | undefined
  return (req, res) => {
    callback ??= app.callback()
    void callback(req, res)
  }
}
