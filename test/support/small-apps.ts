import http, {
  type IncomingHttpHeaders,
  type RequestListener,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline, Readable } from 'node:stream'
import type { CacheHandle, CacheOptions } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cachePlugin, createCache } from '@cachet/fastify'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'

// One small app per framework: an outer layer (it sets `X-Outer: 1` and
// records the status each response finished with), the cache, and one
// catch-all route `/:route/:id` that answers as the test says (`Respond`),
// for the adapter tests that run the same cases on Express, Koa and
// Fastify, with the app's listener or at the edge (`cache.edge`). Each app
// counts its route's runs by the key the test's `respond` counts under.

export interface SmallApp {
  url: string
  cache: CacheHandle
  /** Runs of the route, by the key `respond` counted them under. */
  calls: Map<string, number>
  /** The status of each response as the outer layer saw it finish. */
  finished: number[]
  close(): Promise<void>
}

/** The request as the route sees it: its path (no query) and headers. */
export interface RouteRequest {
  readonly path: string
  readonly headers: IncomingHttpHeaders
}

/** The route's text/plain answer: `body` at once, or streamed in two chunks (`stream`). */
export interface RouteAnswer {
  readonly body: string
  readonly status?: number
  readonly stream?: boolean
  /** Response headers the route sets (`Cache-Control`...). */
  readonly headers?: Readonly<Record<string, string>>
}

/** The answer's body as a stream of two chunks. */
function streamOf(a: RouteAnswer): Readable {
  const half = Math.floor(a.body.length / 2)
  return Readable.from([Buffer.from(a.body.slice(0, half)), Buffer.from(a.body.slice(half))])
}

/** The outer layer: `X-Outer: 1`, and the status the response finished with. */
function outer(res: ServerResponse, finished: number[]): void {
  res.setHeader('x-outer', '1')
  res.on('finish', () => finished.push(res.statusCode))
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
  finished: number[],
): Promise<SmallApp> {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cache,
    calls,
    finished,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await cache.close()
    },
  }
}

const buildExpress: Build = (options, edge, respond) => {
  const [calls, count] = counter()
  const finished: number[] = []
  const app = express()
  const cache = expressCache(options)
  app.use((_req, res, next) => {
    outer(res, finished)
    next()
  })
  app.use(cache)
  app.get('/:route/:id', async (req, res) => {
    const a = await respond({ path: req.path, headers: req.headers }, count)
    res.status(a.status ?? 200).type('text/plain')
    for (const [name, value] of Object.entries(a.headers ?? {})) res.setHeader(name, value)
    if (a.stream) pipeline(streamOf(a), res, () => {})
    else res.send(a.body)
  })
  return listen(edge ? cache.edge(app) : app, cache, calls, finished)
}

const buildKoa: Build = (options, edge, respond) => {
  const [calls, count] = counter()
  const finished: number[] = []
  const app = new Koa()
  const cache = koaCache(options)
  app.use((ctx, next) => {
    outer(ctx.res, finished)
    return next()
  })
  app.use(cache)
  app.use(async (ctx) => {
    const a = await respond({ path: ctx.path, headers: ctx.headers }, count)
    ctx.type = 'text/plain'
    for (const [name, value] of Object.entries(a.headers ?? {})) ctx.set(name, value)
    ctx.body = a.stream ? streamOf(a) : a.body
    ctx.status = a.status ?? 200
  })
  const listener = app.callback()
  return listen(edge ? cache.edge(listener) : listener, cache, calls, finished)
}

const buildFastify: Build = async (options, edge, respond) => {
  const [calls, count] = counter()
  const finished: number[] = []
  const cache = createCache(options)
  let routes: RequestListener | undefined
  const app = Fastify({
    serverFactory: (handler) => {
      routes = handler
      return http.createServer()
    },
  })
  app.addHook('onRequest', async (_request, reply) => outer(reply.raw, finished))
  await app.register(cachePlugin, { cache })
  app.get('/:route/:id', async (request, reply) => {
    const path = request.url.split('?')[0] as string
    const a = await respond({ path, headers: request.headers }, count)
    for (const [name, value] of Object.entries(a.headers ?? {})) reply.header(name, value)
    return reply
      .code(a.status ?? 200)
      .type('text/plain')
      .send(a.stream ? streamOf(a) : a.body)
  })
  await app.ready()
  const listener = routes as RequestListener
  const running = await listen(edge ? cache.edge(listener) : listener, cache, calls, finished)
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
