import type { IncomingMessage, ServerResponse } from 'node:http'
import { cacheMiddleware } from '@cachet/express'
import apicache from 'apicache'
import express, { type RequestHandler } from 'express'
import { createClient } from 'redis'
import {
  attachCachet,
  boundResponse,
  cachetOptions,
  originBody,
  readConfig,
  serve,
  slow,
} from './harness'

// Express 5: the floor (no cache), cachet (memory, Redis, or both), apicache
// (memory or Redis). Routes: see ROUTE in ../shared.

async function main(): Promise<void> {
  const cfg = readConfig()
  const app = express()
  let close = async () => {}
  let listener: (req: IncomingMessage, res: ServerResponse) => void = app
  // apicache is mounted on the cached routes only, as its README does.
  let routeCache: RequestHandler[] = []

  if (cfg.cache === 'cachet') {
    const cache = cacheMiddleware(cachetOptions(cfg))
    await cache.ready
    attachCachet(cache.engine, (target) => cache.invalidate(target))
    app.use(cache)
    if (cfg.edge) listener = cache.edge(app)
    close = () => cache.close()
  } else if (cfg.cache === 'apicache') {
    if (cfg.redis) {
      if (!cfg.redisUrl) throw new Error('redis: true needs redisUrl')
      const client = createClient({ url: cfg.redisUrl })
      client.on('error', (err) => process.stderr.write(`redis: ${err.message}\n`))
      await new Promise<void>((resolve) => client.once('ready', resolve))
      apicache.options({ redisClient: client })
      close = () => new Promise<void>((resolve) => client.quit(() => resolve()))
    }
    routeCache = [apicache.middleware('1 hour')]
  } else if (cfg.cache === 'bound') {
    app.use((req, res, next) => {
      if (!boundResponse(req, res)) next()
    })
  } else if (cfg.cache !== 'none') {
    throw new Error(`express: unknown cache ${cfg.cache}`)
  }

  const send =
    (route: string): RequestHandler =>
    (req, res) => {
      const body = originBody(route, String(req.params.size ?? req.params.id ?? ''))
      if (body === undefined) {
        res.sendStatus(404)
        return
      }
      res.set('content-type', 'application/json')
      res.send(body)
    }

  app.get('/data/:size', ...routeCache, send('data'))
  app.get('/miss/:size', ...routeCache, send('miss'))
  app.get('/other/:size', send('other'))
  app.get('/items/:id', send('items'))
  app.get('/tagged/:id', send('tagged'))
  app.get('/small/:id', send('small'))
  app.get('/flood/:id', send('flood'))
  app.get('/slow/:id', ...routeCache, (req, res, next) => {
    slow(req.params.id as string).then((body) => {
      res.set('content-type', 'application/json')
      res.send(body)
    }, next)
  })

  await serve(listener, close)
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})
