import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CacheOptions } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import Koa from 'koa'

// Small apps built directly on each adapter, behind a real loopback server,
// for the options the example shops do not set (`proxy`, `ignoreCookies`,
// `defaults`). Every GET answers what the route saw, as JSON: the client
// address and protocol the framework derived (Express `trust proxy`, Koa
// `app.proxy`), the host, and every request header. `calls()` counts the
// route's runs.

/** What a reflecting route saw. */
export interface Seen {
  ip: string
  protocol: string
  host: string
  headers: Record<string, string | string[] | undefined>
}

export interface ReflectApp {
  url: string
  /** How many times a route ran. */
  calls(): number
  close(): Promise<void>
}

export type BuildReflectApp = (options: CacheOptions) => Promise<ReflectApp>

async function listen(listener: http.RequestListener, calls: () => number): Promise<ReflectApp> {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

export const expressReflect: BuildReflectApp = async (options) => {
  let calls = 0
  const app = express()
  // The proxy in front is on loopback: req.ip is the address it forwarded.
  app.set('trust proxy', 'loopback')
  const cache = expressCache(options)
  app.use(cache)
  app.get('/{*path}', (req, res) => {
    calls++
    const seen: Seen = {
      ip: req.ip ?? '',
      protocol: req.protocol,
      host: req.host,
      headers: { ...req.headers },
    }
    res.json(seen)
  })
  await cache.ready
  return listen(app as unknown as http.RequestListener, () => calls)
}

export const koaReflect: BuildReflectApp = async (options) => {
  let calls = 0
  const app = new Koa()
  app.proxy = true
  const cache = koaCache(options)
  app.use(cache)
  app.use(async (ctx) => {
    calls++
    const seen: Seen = {
      ip: ctx.ip,
      protocol: ctx.protocol,
      host: ctx.host,
      headers: { ...ctx.req.headers },
    }
    ctx.body = seen
  })
  await cache.ready
  return listen(app.callback(), () => calls)
}

export const reflectApps: ReadonlyArray<{ name: string; build: BuildReflectApp }> = [
  { name: 'express', build: expressReflect },
  { name: 'koa', build: koaReflect },
]
