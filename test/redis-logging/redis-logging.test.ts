import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { redisTier } from '@cachet/core/redis'
import type { CacheHandle, CacheRule, ReadyStatus } from '@cachet/express'
import * as expressPkg from '@cachet/express'
import * as koaPkg from '@cachet/koa'
import express from 'express'
import Koa from 'koa'
import request from 'supertest'
import { REPO_ROOT } from '../support/processes'
import { freePort, type RedisProcess, startRedis, waitFor } from '../support/redis/redis-server'
import { sharedRedisUrl } from '../support/redis/shared'

// A wrong or unreachable Redis is not silent (option `logger`, `cache.ready`),
// and a tier built and never used does not keep the process alive. Real HTTP
// (supertest), a real refused port, the run's shared Redis, and a throwaway
// redis-server of this file's own for the outage, stopped by pid.

const rules: CacheRule[] = [{ name: 'item', path: '/items/:id', ttl: '5m' }]

interface App {
  cache: CacheHandle
  http: ReturnType<typeof request>
  calls: () => number
  lines: string[]
}

const adapters = [
  {
    name: 'express',
    make(options: expressPkg.ExpressCacheOptions, count: () => void): [CacheHandle, unknown] {
      const cache = expressPkg.cacheMiddleware(options)
      const app = express()
      app.use(cache)
      app.get('/items/:id', (req, res) => {
        count()
        res.json({ id: req.params.id })
      })
      return [cache, app]
    },
  },
  {
    name: 'koa',
    make(options: koaPkg.KoaCacheOptions, count: () => void): [CacheHandle, unknown] {
      const cache = koaPkg.cacheMiddleware(options)
      const app = new Koa()
      app.use(cache)
      app.use(async (ctx) => {
        if (!ctx.path.startsWith('/items/')) return
        count()
        ctx.body = { id: ctx.path.slice(7) }
      })
      return [cache, app.callback()]
    },
  },
] as const

const opened: CacheHandle[] = []
let server: RedisProcess | undefined

afterEach(async () => {
  for (const cache of opened.splice(0)) await cache.close()
  await server?.stop()
  server = undefined
})

function startApp(
  adapter: (typeof adapters)[number],
  client: string,
  extra: { timeouts?: { invalidate?: string } } = {},
): App {
  let calls = 0
  const lines: string[] = []
  const [cache, listener] = adapter.make(
    {
      rules,
      store: {
        l2: redisTier({ client, prefix: `log-${randomBytes(5).toString('hex')}`, ...extra }),
      },
      logger: { warn: (message: string) => lines.push(message) },
    },
    () => {
      calls++
    },
  )
  opened.push(cache)
  return { cache, http: request(listener as never), calls: () => calls, lines }
}

async function get(app: App, id: number): Promise<void> {
  const res = await app.http.get(`/items/${id}`)
  expect(res.status).toBe(200)
  expect(res.body).toEqual({ id: String(id) })
}

describe.each(adapters)('$name', (adapter) => {
  test('an unreachable Redis: ready says so, the origin answers, one "cannot connect" message naming the URL and ECONNREFUSED', async () => {
    const port = await freePort()
    const url = `redis://127.0.0.1:${port}`
    const app = startApp(adapter, url, { timeouts: { invalidate: '300ms' } })
    const status: ReadyStatus = await app.cache.ready
    expect(status).toEqual({ shared: 'unreachable', cause: `ECONNREFUSED 127.0.0.1:${port}` })

    for (let i = 0; i < 3; i++) await get(app, 1)
    for (let i = 2; i <= 8; i++) await get(app, i)
    // Nothing is served from a tier nobody can trust: every request ran the route.
    expect(app.calls()).toBe(10)
    // The breaker has opened meanwhile, and ioredis kept retrying: still one line.
    expect(app.lines).toEqual([
      `cachet: cannot connect to the shared tier (redis at ${url}): ECONNREFUSED 127.0.0.1:${port}. Requests go on without it; retrying in the background`,
    ])
    // The invalidation's rejection names the cause too, not ioredis's state.
    const err = await app.cache.invalidate({ tags: ['x'] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(err?.message).toBe(
      `invalidate(): could not record the invalidation in Redis (${url}): ECONNREFUSED 127.0.0.1:${port}`,
    )
    expect(app.lines).toHaveLength(1)
  })

  test('a reachable Redis: ready says connected, nothing is logged, hits are hits', async () => {
    const app = startApp(adapter, sharedRedisUrl())
    expect(await app.cache.ready).toEqual({ shared: 'connected' })
    await get(app, 1)
    await get(app, 1)
    expect(app.calls()).toBe(1)
    expect(app.lines).toEqual([])
  })
})

test('an outage and its end: one message when the connection is lost, one when Redis answers again', async () => {
  server = await startRedis()
  const redis = server
  const app = startApp(adapters[0], redis.url)
  expect(await app.cache.ready).toEqual({ shared: 'connected' })
  await get(app, 1)
  await get(app, 1)
  expect(app.calls()).toBe(1)

  await redis.kill()
  await waitFor('the outage is logged', 5000, async () =>
    app.lines.length > 0 ? true : 'no line yet',
  )
  for (let i = 0; i < 10; i++) await get(app, 1)
  // The memory copy is not trusted while the bus is down: the route answered each time.
  expect(app.calls()).toBe(11)
  expect(app.lines).toEqual([
    `cachet: lost the connection to the shared tier (redis at ${redis.url}): ECONNREFUSED 127.0.0.1:${redis.port}. Requests go on without it; retrying in the background`,
  ])

  await redis.restart()
  // Requests let the open breaker probe; the bus's renewal lets it probe at once.
  let n = 100
  await waitFor('the recovery is logged', 10_000, async () => {
    await get(app, n++)
    return app.lines.length > 1 ? true : `lines: ${app.lines.length}`
  })
  expect(app.lines).toHaveLength(2)
  expect(app.lines[1]).toMatch(
    new RegExp(
      `^cachet: the shared tier \\(redis at redis://127\\.0\\.0\\.1:${redis.port}\\) answers again \\(after \\d+\\.\\d s\\)$`,
    ),
  )
  // Back to normal: a request the cache answers without running the route.
  await waitFor('a hit', 5000, async () => {
    const before = app.calls()
    await get(app, 1)
    return app.calls() === before ? true : 'the route ran'
  })
  expect(app.lines).toHaveLength(2)
})

test('a redisTier built and never used does not keep the process alive', async () => {
  const dist = path.join(REPO_ROOT, 'packages', 'core', 'dist', 'redis', 'index.js')
  if (!fs.existsSync(dist))
    throw new Error(`${dist} does not exist: build the workspace first ("npx tsc -b")`)
  const port = await freePort()
  const script = [
    `const { redisTier } = require(${JSON.stringify(dist)})`,
    `redisTier('redis://127.0.0.1:${port}')`,
    `redisTier({ client: ${JSON.stringify(sharedRedisUrl())}, prefix: 'never-used' })`,
    `redisTier('127.0.0.1:${port},127.0.0.1:${port + 1}')`,
    `console.log('built')`,
  ].join('\n')
  const started = Date.now()
  const child = spawn(process.execPath, ['-e', script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString('utf8')
  })
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString('utf8')
  })
  const code = await new Promise<number | null | 'running'>((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
      resolve('running')
    }, 5000)
    child.once('exit', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  expect({ code, output: output.trim() }).toEqual({ code: 0, output: 'built' })
  expect(Date.now() - started).toBeLessThan(5000)
})
