import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CacheHandle, CacheOptions } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cachePlugin, createCache } from '@cachet/fastify'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'

// One small app per framework, the cache mounted first and one catch-all
// route `/:route/:id` that answers as the test says (`Respond`), for the
// adapter tests that run the same cases on Express, Koa and Fastify, with
// the app's listener or at the edge (`cache.edge`). Each app counts its
// route's runs by the key the test's `respond` counts under.

export interface SmallApp {
  url: string
  cache: CacheHandle
  /** Runs of the route, by the key `respond` counted them under. */
  calls: Map<string, number>
  close(): Promise<void>
}

/** The request as the route sees it: its path (no query) and headers. */
export interface RouteRequest {
  readonly path: string
  readonly headers: IncomingHttpHeaders
}

/** The route's text/plain answer. */
export interface RouteAnswer {
  readonly body: string
  readonly status?: number
}

/** How the route answers; `count(key)` counts a run under `key` and returns the runs so far. */
export type Respond = (
  req: RouteRequest,
  count: (key: string) => number,
) => RouteAnswer | Promise<RouteAnswer>

export type Build = (options: CacheOptions, edge: boolean, respond: Respond) => Promise<SmallApp>

function counter(): [Map<string, number>, (key: string) => number] {
  const calls = new Map<string, number>()
  return [
    calls,
    (key) => {
      const n = (calls.get(key) ?? 0) + 1
      calls.set(key, n)
      return n
    },
  ]
}

async function listen(
  listener: RequestListener,
  cache: CacheHandle,
  calls: Map<string, number>,
): Promise<SmallApp> {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cache,
    calls,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await cache.close()
    },
  }
}

const buildExpress: Build = (options, edge, respond) => {
  const [calls, count] = counter()
  const app = express()
  const cache = expressCache(options)
  app.use(cache)
  app.get('/:route/:id', async (req, res) => {
    const a = await respond({ path: req.path, headers: req.headers }, count)
    res
      .status(a.status ?? 200)
      .type('text/plain')
      .send(a.body)
  })
  return listen(edge ? cache.edge(app) : app, cache, calls)
}

const buildKoa: Build = (options, edge, respond) => {
  const [calls, count] = counter()
  const app = new Koa()
  const cache = koaCache(options)
  app.use(cache)
  app.use(async (ctx) => {
    const a = await respond({ path: ctx.path, headers: ctx.headers }, count)
    ctx.type = 'text/plain'
    ctx.body = a.body
    ctx.status = a.status ?? 200
  })
  return listen(edge ? cache.edge(app.callback()) : app.callback(), cache, calls)
}

const buildFastify: Build = async (options, edge, respond) => {
  const [calls, count] = counter()
  const cache = createCache(options)
  let routes: RequestListener | undefined
  const app = Fastify({
    serverFactory: (handler) => {
      routes = handler
      return http.createServer()
    },
  })
  await app.register(cachePlugin, { cache })
  app.get('/:route/:id', async (request, reply) => {
    const path = request.url.split('?')[0] as string
    const a = await respond({ path, headers: request.headers }, count)
    return reply
      .code(a.status ?? 200)
      .type('text/plain')
      .send(a.body)
  })
  await app.ready()
  const listener = routes as RequestListener
  const running = await listen(edge ? cache.edge(listener) : listener, cache, calls)
  return {
    ...running,
    async close() {
      await running.close()
      await app.close()
    },
  }
}

/** The three frameworks' small apps, for `describe.each`. */
export const smallApps: [string, Build][] = [
  ['Express', buildExpress],
  ['Koa', buildKoa],
  ['Fastify', buildFastify],
]
