import { adminRouter, cacheMiddleware } from '@cachet/express'
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
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express'
import { sendAnswer, sendFailure } from './respond'

// The example shop of CONTRACT.md on Express. All behaviour lives in
// @cachet/shop-common; this file only wires it into Express, and never listens
// (`main.ts` does), so tests can drive `app` or `handler` directly.

export type ExpressShop = Shop<express.Express>

// The request as the cache adapter reads it: `req.user.id` keys per-user rules.
type ShopRequest = Request & { user?: ShopUser }

export function createShop(partial: Partial<ShopConfig> = {}): ExpressShop {
  const config = resolveConfig(partial)
  const origin = createOrigin(config)
  const cache = cacheMiddleware(shopCacheOptions(config))

  const app = express()
  // Auth comes before the cache, which needs the user to key per-user entries;
  // body parsing comes after it, so a cache hit never reads a request body.
  app.use(demoAuth)
  app.use(cache)
  // The admin API reads its own body; without CACHE_ADMIN_TOKEN its paths 404.
  if (config.adminToken !== undefined) {
    app.use('/admin/cache', adminRouter(cache, { tokens: { admin: config.adminToken } }))
  }
  app.use(parseJsonBody)
  for (const route of [...origin.routes, metricsRoute(cache)]) register(app, route)
  app.use(answerNotFound)

  return {
    app,
    handler: (req, res) => app(req, res),
    cache,
    state: origin.state,
    close: closeOnce(cache),
  }
}

// Sets `req.user` for a valid demo token. Never rejects: whether a route needs a
// user is the route's business (a 401 from the origin).
function demoAuth(req: ShopRequest, _res: Response, next: NextFunction): void {
  const id = userFromAuthorization(req.headers.authorization)
  if (id !== undefined) req.user = { id }
  next()
}

const json = express.json({ limit: JSON_BODY_LIMIT })

// express.json(), except that a bad body is handed to the route as `bodyError`
// instead of ending in Express's HTML error page: the origin answers it, as JSON,
// exactly as the Koa shop does (and the call is counted like any other).
function parseJsonBody(req: Request, res: Response, next: NextFunction): void {
  json(req, res, (err?: unknown) => {
    if (err !== undefined && err !== null) res.locals.bodyError = bodyErrorFrom(err)
    next()
  })
}

function register(app: express.Express, route: OriginRoute): void {
  const handler = expressHandler(route)
  switch (route.method) {
    case 'GET':
      app.get(route.path, handler)
      return
    case 'POST':
      app.post(route.path, handler)
      return
    case 'PUT':
      app.put(route.path, handler)
      return
  }
}

function expressHandler(route: OriginRoute): RequestHandler {
  return async function originRoute(req: ShopRequest, res: Response): Promise<void> {
    try {
      const answer = await route.handle({
        params: req.params,
        query: req.query,
        body: req.body,
        bodyError: res.locals.bodyError as BodyError | undefined,
        user: req.user?.id,
        headers: req.headers,
        url: req.originalUrl,
      })
      await sendAnswer(req, res, answer)
    } catch (err) {
      sendFailure(req, res, route, err)
    }
  }
}

// Unknown paths answer like unknown products, in JSON, the same in both apps.
function answerNotFound(req: Request, res: Response): void {
  void sendAnswer(req, res, notFound())
}
