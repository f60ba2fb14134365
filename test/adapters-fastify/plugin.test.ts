import http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  adminPlugin,
  type CacheRule,
  CachetConfigError,
  cachePlugin,
  createCache,
} from '@cachet/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { send } from './helpers'

// The plugin as Fastify sees it: where it is registered (the root, or an
// encapsulated context), what it refuses, and the admin plugin; over real
// HTTP, counting the origin's runs.

const rules: CacheRule[] = [{ name: 'page', path: '/api/pages/:id', ttl: 60, tags: ['pages'] }]
const TOKEN = 'a-long-enough-admin-token'

const apps: FastifyInstance[] = []
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close()
})

async function listen(app: FastifyInstance): Promise<string> {
  apps.push(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** The message of the error `register` ends in. */
async function registerError(options: unknown): Promise<CachetConfigError> {
  const app = Fastify()
  apps.push(app)
  app.register(cachePlugin, options as never)
  const err = await app.ready().then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(CachetConfigError)
  return err as CachetConfigError
}

describe('where it is registered', () => {
  test('in an encapsulated context: its routes are cached, the others are not touched', async () => {
    let api = 0
    let other = 0
    const app = Fastify()
    app.register(
      async (scoped) => {
        await scoped.register(cachePlugin, { rules })
        scoped.get('/pages/:id', async () => ({
          api: ++api,
          hasCache: scoped.hasDecorator('cache'),
        }))
      },
      { prefix: '/api' },
    )
    // Another context, on a path the rules would match: the plugin's hooks do not run there.
    app.register(async (elsewhere) => {
      elsewhere.get('/api/pages/elsewhere/:id', async () => ({ other: ++other }))
    })
    app.get('/root', async () => ({ root: true }))
    const url = await listen(app)
    expect(app.hasDecorator('cache')).toBe(false)
    const miss = await send(`${url}/api/pages/1`)
    const hit = await send(`${url}/api/pages/1`)
    expect([miss.xCache, hit.xCache, hit.json()]).toEqual([
      'MISS',
      'HIT',
      { api: 1, hasCache: true },
    ])
    expect((await send(`${url}/root`)).xCache).toBe(null)
    expect(api).toBe(1)
    expect(other).toBe(0)
  })

  test('at the root, with a cache made beforehand: app.cache is that cache', async () => {
    let runs = 0
    const cache = createCache(rules)
    const app = Fastify()
    await app.register(cachePlugin, { cache })
    app.get('/api/pages/:id', async () => ({ runs: ++runs }))
    const url = await listen(app)
    expect(app.cache).toBe(cache)
    await send(`${url}/api/pages/1`)
    await cache.invalidate({ tags: ['pages'] })
    expect((await send(`${url}/api/pages/1`)).xCache).toBe('MISS')
    expect(runs).toBe(2)
    // A cache passed in is its maker's to close.
    await app.close()
    await cache.close()
  })

  test('cache.edge() in a serverFactory answers memory hits before Fastify runs', async () => {
    let runs = 0
    let hooks = 0
    const cache = createCache(rules)
    const app = Fastify({
      serverFactory: (handler) => http.createServer(cache.edge(handler)),
    })
    app.addHook('onRequest', (_request, _reply, done) => {
      hooks++
      done()
    })
    await app.register(cachePlugin, { cache })
    app.get('/api/pages/:id', async () => ({ runs: ++runs }))
    const url = await listen(app)
    expect((await send(`${url}/api/pages/1`)).xCache).toBe('MISS')
    const hit = await send(`${url}/api/pages/1`)
    expect([hit.xCache, hit.json()]).toEqual(['HIT', { runs: 1 }])
    expect([runs, hooks]).toEqual([1, 1])
    await app.close()
    await cache.close()
  })

  test('twice in one context is refused', async () => {
    const app = Fastify()
    apps.push(app)
    app.register(cachePlugin, { rules })
    app.register(cachePlugin, { rules })
    await expect(app.ready()).rejects.toThrow(
      'cachePlugin: this Fastify context already has a "cache" decorator',
    )
  })
})

describe('bad options name what is wrong', () => {
  test('no rules', async () => {
    expect((await registerError({})).message).toBe(
      'app.register(cachePlugin, options) needs rules: app.register(cachePlugin, { rules: [...] }), got an object with keys []',
    )
  })
  test('a lone rule', async () => {
    expect((await registerError({ path: '/x', ttl: 5 })).message).toMatch(
      /got a single rule \(path "\/x"\); put it in a list/,
    )
  })
  test('a typo in a rule', async () => {
    const err = await registerError({ rules: [{ path: '/x', tll: '5m' }] })
    expect([err.code, err.message]).toEqual([
      'CACHET_INVALID_RULE',
      'rules[0] (/x): unknown option "tll" (did you mean "ttl"?)',
    ])
  })
  test('a cache that is not one', async () => {
    expect((await registerError({ cache: {} })).message).toMatch(
      /option "cache": expected a cache made by createCache\(\), got an object with keys \[\]/,
    )
  })
  test('a cache with options beside it', async () => {
    const cache = createCache(rules)
    expect((await registerError({ cache, ttl: 5 })).message).toMatch(
      /pass them to createCache\(\), not here \(got \["ttl"\]\)/,
    )
    await cache.close()
  })
  test('identify that is not a function', async () => {
    expect((await registerError({ rules, identify: 'user' })).message).toBe(
      'option "identify": expected a function returning the user id',
    )
  })
  test('createCache() without rules', () => {
    expect(() => createCache(undefined as never)).toThrow(
      'createCache() needs rules: createCache({ rules: [...] }), got undefined',
    )
  })
})

describe('adminPlugin', () => {
  async function adminApp(prefix?: string) {
    let runs = 0
    const app = Fastify()
    await app.register(cachePlugin, { rules })
    app.register(adminPlugin(app.cache, { tokens: { ops: TOKEN }, ...(prefix ? { prefix } : {}) }))
    app.get('/api/pages/:id', async () => ({ runs: ++runs }))
    return { url: await listen(app), runs: () => runs }
  }
  const auth = { authorization: `Bearer ${TOKEN}` }

  test('stats and invalidation behind the token; the dashboard at the prefix', async () => {
    const { url, runs } = await adminApp()
    await send(`${url}/api/pages/1`)
    expect((await send(`${url}/admin/cache/stats`)).status).toBe(401)
    const stats = await send(`${url}/admin/cache/stats`, { headers: auth })
    expect(stats.status).toBe(200)
    expect((stats.json() as { stats: { rules: { name: string }[] } }).stats.rules[0]?.name).toBe(
      'page',
    )
    const invalidated = await send(`${url}/admin/cache/invalidate`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ tags: ['pages'] }),
    })
    expect([invalidated.status, (invalidated.json() as { ok: boolean }).ok]).toEqual([200, true])
    expect((await send(`${url}/api/pages/1`)).xCache).toBe('MISS')
    const page = await send(`${url}/admin/cache/`)
    expect([page.status, page.headers.get('content-type')]).toEqual([
      200,
      expect.stringMatching(/^text\/html/),
    ])
    expect(runs()).toBe(2)
  })

  test('reads its own body, whatever its type: a bad one is its own 400, not Fastify’s 415', async () => {
    const { url } = await adminApp('/ops/cache/')
    const reply = await send(`${url}/ops/cache/invalidate`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'not json',
    })
    expect(reply.status).toBe(400)
    expect((reply.json() as { error: string }).error).toMatch(/invalid JSON/)
  })

  test('refuses to start without a token, or with a bad prefix', () => {
    const cache = createCache(rules)
    expect(() => adminPlugin(cache, {} as never)).toThrow(CachetConfigError)
    expect(() => adminPlugin(cache, { tokens: { ops: TOKEN }, prefix: 'admin' })).toThrow(
      'admin: option "prefix": expected a path starting with "/"',
    )
    return cache.close()
  })
})
