import http, { type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CacheRule } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import Koa from 'koa'
import request from 'supertest'

// `cache.edge(listener)` answers memory hits before the framework runs; the
// middleware still does everything else. Per-user rules are never answered at
// the edge (only the app's auth knows the user).
const rules: CacheRule[] = [
  { path: '/items/:id', ttl: 60 },
  { path: '/mine', ttl: 60, perUser: true },
]

interface Built {
  listener: RequestListener
  calls: Record<string, number>
  frameworkRuns: () => number
}

function expressApp(): Built {
  const calls: Record<string, number> = {}
  let runs = 0
  const app = express()
  app.use((req, _res, next) => {
    runs++
    const user = req.headers['x-test-user']
    if (typeof user === 'string') (req as { user?: string }).user = user
    next()
  })
  const cache = expressCache(rules)
  app.use(cache)
  app.get('/items/:id', (req, res) => {
    calls.item = (calls.item ?? 0) + 1
    res.set('x-origin', 'yes').json({ id: req.params.id })
  })
  app.get('/mine', (req, res) => {
    calls.mine = (calls.mine ?? 0) + 1
    res.json({ user: (req as { user?: string }).user })
  })
  return {
    listener: cache.edge(app as unknown as RequestListener),
    calls,
    frameworkRuns: () => runs,
  }
}

function koaApp(): Built {
  const calls: Record<string, number> = {}
  let runs = 0
  const app = new Koa()
  app.use(async (ctx, next) => {
    runs++
    const user = ctx.get('x-test-user')
    if (user) ctx.state.user = user
    await next()
  })
  const cache = koaCache(rules)
  app.use(cache)
  app.use(async (ctx) => {
    if (ctx.path.startsWith('/items/')) {
      calls.item = (calls.item ?? 0) + 1
      ctx.set('x-origin', 'yes')
      ctx.body = { id: ctx.path.slice(7) }
    } else if (ctx.path === '/mine') {
      calls.mine = (calls.mine ?? 0) + 1
      ctx.body = { user: ctx.state.user }
    }
  })
  return { listener: cache.edge(app.callback()), calls, frameworkRuns: () => runs }
}

describe.each([
  ['express', expressApp],
  ['koa', koaApp],
])('%s edge', (_name, build) => {
  let server: http.Server
  let url: string
  let app: Built

  beforeEach(async () => {
    app = build()
    server = http.createServer(app.listener)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterEach(() => new Promise((resolve) => server.close(resolve)))

  test('a hit is answered before the framework runs, with the stored headers and body', async () => {
    const miss = await request(url).get('/items/7')
    const hit = await request(url).get('/items/7')
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT'])
    expect(hit.body).toEqual({ id: '7' })
    expect(hit.headers['x-origin']).toBe('yes')
    expect(hit.headers['content-type']).toBe(miss.headers['content-type'])
    expect(app.calls.item).toBe(1)
    expect(app.frameworkRuns()).toBe(1)
  })

  test('per-user rules are left to the middleware', async () => {
    await request(url).get('/mine').set('x-test-user', 'u1')
    const again = await request(url).get('/mine').set('x-test-user', 'u1')
    const other = await request(url).get('/mine').set('x-test-user', 'u2')
    expect(again.headers['x-cache']).toBe('HIT')
    expect(again.body).toEqual({ user: 'u1' })
    expect(other.body).toEqual({ user: 'u2' })
    expect(app.calls.mine).toBe(2)
    expect(app.frameworkRuns()).toBe(3)
  })

  test('requests with credentials go to the app', async () => {
    await request(url).get('/items/8')
    const withCookie = await request(url).get('/items/8').set('cookie', 'a=b')
    expect(withCookie.headers['x-cache']).toBe('BYPASS')
    expect(app.calls.item).toBe(2)
  })
})
