import type { IncomingMessage, ServerResponse } from 'node:http'
import { cacheMiddleware } from '@cachet/koa'
import Koa from 'koa'
import koaCash from 'koa-cash'
import { ROUTE } from '../shared'
import {
  attachCachet,
  boundResponse,
  cachetOptions,
  originBody,
  readConfig,
  serve,
  slow,
} from './harness'

// Koa 3: the floor (no cache), cachet (memory, Redis, or both), koa-cash
// backed by a Map (its README's get/set). One routing middleware; routes: see
// ROUTE in ../shared.

async function main(): Promise<void> {
  const cfg = readConfig()
  const app = new Koa()
  let close = async () => {}
  let edge: ((l: (req: IncomingMessage, res: ServerResponse) => void) => typeof l) | undefined
  const cash = cfg.cache === 'koa-cash'

  if (cfg.cache === 'cachet') {
    const cache = cacheMiddleware(cachetOptions(cfg))
    await cache.ready
    attachCachet(cache.engine, (target) => cache.invalidate(target))
    app.use(cache)
    if (cfg.edge) edge = (l) => cache.edge(l)
    close = () => cache.close()
  } else if (cash) {
    const store = new Map<string, unknown>()
    app.use(
      koaCash({
        get: (key) => store.get(key),
        set: (key, value) => {
          if (value === false) store.delete(key)
          else store.set(key, value)
        },
        setCachedHeader: true,
      }),
    )
  } else if (cfg.cache === 'bound') {
    app.use(async (ctx, next) => {
      ctx.respond = false
      if (!boundResponse(ctx.req, ctx.res)) {
        ctx.respond = true
        await next()
      }
    })
  } else if (cfg.cache !== 'none') {
    throw new Error(`koa: unknown cache ${cfg.cache}`)
  }

  app.use(async (ctx) => {
    const m = ROUTE.exec(ctx.path)
    if (!m) return
    const route = m[1] as string
    const arg = m[2] as string
    // koa-cash caches the routes that ask it to, as its README shows.
    if (cash && (route === 'data' || route === 'slow' || route === 'miss') && (await ctx.cashed()))
      return
    const body = route === 'slow' ? await slow(arg) : originBody(route, arg)
    if (body === undefined) return
    ctx.type = 'application/json'
    ctx.body = body
  })

  await serve(edge ? edge(app.callback()) : app.callback(), close)
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})
