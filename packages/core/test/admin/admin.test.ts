import { type AdminRequest, type AdminResponse, createAdmin } from '../../src/admin'
import { CacheEngine } from '../../src/engine/engine'
import { CachetConfigError } from '../../src/errors'
import type { CacheRule } from '../../src/rules/types'
import { FakeTier } from '../fake-tier'
import { FakeOrigin, request, thrown } from '../support'

// The framework-free admin API against a real engine: auth, every route,
// and the answers an operator relies on. The adapters' mounts are tested in
// test/admin against both shops.

const TOKEN = 'test-admin-token-0123456789abcdef'
const DEPLOY = 'test-deploy-token-0123456789abcd'

const rules: CacheRule[] = [
  {
    name: 'product',
    path: '/products/:id',
    ttl: 60,
    tags: ['product:{params.id}'],
    key: { query: ['lang'] },
  },
  { name: 'cart', path: '/me/cart', ttl: 60, perUser: true },
  { name: 'catalog', path: '/catalog/:id', ttl: 60, tenant: (req) => req.headers.host },
]

function call(
  admin: ReturnType<typeof createAdmin>,
  method: string,
  url: string,
  options: { token?: string | null; body?: unknown } = {},
): Promise<AdminResponse & { json: Record<string, unknown> }> {
  const token = options.token === undefined ? TOKEN : options.token
  const req: AdminRequest = {
    method,
    url,
    authorization: token === null ? undefined : `Bearer ${token}`,
    body: async () => options.body,
  }
  return admin.handle(req).then((res) => ({
    ...res,
    json: res.headers['Content-Type']?.startsWith('application/json') ? JSON.parse(res.body) : {},
  }))
}

describe('createAdmin', () => {
  test('refuses to be created without a token', () => {
    const engine = new CacheEngine({ rules })
    for (const options of [undefined, {}, { tokens: '' }, { tokens: undefined }]) {
      const err = thrown(() => createAdmin(engine, options as never))
      expect(err).toBeInstanceOf(CachetConfigError)
      expect(err.message).toMatch(/refuses to run without/)
    }
  })

  test('refuses something that is not a cache', () => {
    expect(() => createAdmin({} as never, { tokens: TOKEN })).toThrow(
      /expected the cache middleware \(or its engine\), got a Object/,
    )
  })

  test('accepts a cache middleware handle (anything carrying .engine)', async () => {
    const engine = new CacheEngine({ rules })
    const admin = createAdmin({ engine }, { tokens: TOKEN })
    expect((await call(admin, 'GET', '/stats')).status).toBe(200)
  })
})

describe('auth', () => {
  const admin = createAdmin(new CacheEngine({ rules }), { tokens: TOKEN })
  const routes: [string, string][] = [
    ['GET', '/stats'],
    ['POST', '/invalidate'],
    ['GET', '/explain?url=/products/1'],
    ['GET', '/health'],
    ['GET', '/nope'],
  ]

  test.each(routes)('%s %s: a missing and a wrong token get the same 401', async (method, url) => {
    const missing = await call(admin, method, url, { token: null, body: { tags: ['x'] } })
    const wrong = await call(admin, method, url, { token: `${TOKEN}x`, body: { tags: ['x'] } })
    for (const res of [missing, wrong]) {
      expect(res.status).toBe(401)
      expect(res.headers['WWW-Authenticate']).toBe('Bearer realm="cachet admin"')
      expect(res.headers['Cache-Control']).toBe('no-store')
    }
    expect(wrong.body).toBe(missing.body)
    expect(wrong.headers).toEqual(missing.headers)
  })

  test('the dashboard page needs no token, carries no data, and is not stored', async () => {
    for (const url of ['/', '', '/?x=1']) {
      const res = await call(admin, 'GET', url, { token: null })
      expect(res.status).toBe(200)
      expect(res.headers['Content-Type']).toBe('text/html; charset=utf-8')
      expect(res.headers['Cache-Control']).toBe('no-store')
      expect(res.headers['Content-Security-Policy']).toMatch(/default-src 'none'/)
      expect(res.headers['Content-Security-Policy']).toMatch(/script-src 'sha256-/)
      expect(res.body).toContain('<label for="token">Admin token</label>')
    }
    expect((await call(admin, 'POST', '/', { token: null })).status).toBe(405)
  })

  test('an unknown route is 404 and a wrong method 405, once authenticated', async () => {
    expect((await call(admin, 'GET', '/nope')).status).toBe(404)
    const wrong = await call(admin, 'GET', '/invalidate')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.Allow).toBe('POST')
    expect((await call(admin, 'POST', '/stats')).headers.Allow).toBe('GET, HEAD')
    expect((await call(admin, 'GET', '/stats/')).status).toBe(200)
  })
})

describe('routes', () => {
  let engine: CacheEngine
  let admin: ReturnType<typeof createAdmin>
  beforeEach(() => {
    engine = new CacheEngine({ rules })
    admin = createAdmin(engine, { tokens: { ops: TOKEN, deploy: DEPLOY } })
  })

  test('GET /stats: counters, recent invalidations, when and where', async () => {
    const origin = new FakeOrigin()
    await request(engine, origin, '/products/1')
    await request(engine, origin, '/products/1')
    const res = await call(admin, 'GET', '/stats')
    expect(res.status).toBe(200)
    expect(res.headers['Cache-Control']).toBe('no-store')
    expect(res.json).toMatchObject({ pid: process.pid, recentInvalidations: [] })
    expect(Math.abs((res.json.at as number) - Date.now())).toBeLessThan(5000)
    const stats = res.json.stats as { rules: { name: string; hits: object; misses: number }[] }
    expect(stats.rules[0]).toMatchObject({ name: 'product', hits: { memory: 1 }, misses: 1 })
  })

  test('POST /invalidate: done, attributed to the token name, and a miss afterwards', async () => {
    const origin = new FakeOrigin()
    await request(engine, origin, '/products/1')
    expect((await request(engine, origin, '/products/1')).outcome).toBe('hit')

    const res = await call(admin, 'POST', '/invalidate', {
      token: DEPLOY,
      body: { tags: ['product:1'] },
    })
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({
      ok: true,
      by: 'deploy',
      tags: ['product:1'],
      patterns: [],
      users: [],
    })
    expect(typeof res.json.ms).toBe('number')
    expect((await request(engine, origin, '/products/1')).outcome).toBe('miss')
    expect(origin.calls).toBe(2)

    const stats = await call(admin, 'GET', '/stats')
    expect(stats.json.recentInvalidations).toEqual([
      expect.objectContaining({ by: 'deploy', tags: ['product:1'], ok: true }),
    ])
  })

  const bad: [string, unknown, string][] = [
    ['tags not an array', { tags: 'product:1' }, 'tags'],
    ['an empty tag', { tags: [''] }, 'tags'],
    ['a reserved tag', { tags: ['#x'] }, 'tags'],
    ['a relative pattern', { pattern: 'products' }, 'pattern'],
    ['an invalid pattern', { pattern: '/products/(' }, 'pattern'],
    ['an empty user', { user: '' }, 'user'],
    ['an unknown field', { tag: ['a'] }, 'tag'],
    ['nothing to invalidate', {}, 'target'],
    ['not an object', ['a'], 'target'],
    ['null', null, 'target'],
  ]
  test.each(bad)('POST /invalidate with %s: 400 naming "%s"', async (_, body, field) => {
    const res = await call(admin, 'POST', '/invalidate', { body })
    expect(res.status).toBe(400)
    expect(res.json.field).toBe(field)
    expect(res.json.error).toMatch(new RegExp(`"${field}"`))
    expect(engine.recentInvalidations()).toEqual([])
  })

  test('GET /explain: the rule and key components; the user only from user=', async () => {
    const res = await call(admin, 'GET', '/explain?url=/products/7%3Flang%3Dfr%26utm%3Dx')
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({
      method: 'GET',
      path: '/products/7',
      matched: true,
      rule: { name: 'product', kind: 'cache', ttlSeconds: 60 },
      key: { query: [['lang', 'fr']], ignoredQuery: ['utm'], perUser: false },
      tags: ['product:7'],
      memory: { state: 'absent' },
    })
    // The admin request's own Authorization is never taken for the app's.
    const cart = await call(admin, 'GET', '/explain?url=/me/cart')
    expect(cart.json).toMatchObject({ bypass: 'no-user' })
    const user = await call(admin, 'GET', '/explain?url=/me/cart&user=u1')
    expect(user.json.bypass).toBeUndefined()
    expect(user.json.key).toMatchObject({ perUser: true })

    const noTenant = await call(admin, 'GET', '/explain?url=/catalog/1')
    expect(noTenant.json).toMatchObject({ bypass: 'no-tenant' })
    const tenant = await call(admin, 'GET', '/explain?url=/catalog/1&tenant=acme')
    expect(tenant.json.bypass).toBeUndefined()

    const post = await call(admin, 'GET', '/explain?url=/products/1&method=post')
    expect(post.json).toMatchObject({ method: 'POST', matched: false })
  })

  test.each([
    ['/explain', 'url'],
    ['/explain?url=products', 'url'],
    ['/explain?url=/a&method=G%20T', 'method'],
    ['/explain?url=/a&header=nocolon', 'header'],
  ])('GET %s: 400 naming "%s"', async (url, field) => {
    const res = await call(admin, 'GET', url)
    expect(res.status).toBe(400)
    expect(res.json.field).toBe(field)
  })

  test('GET /health: memory only is healthy', async () => {
    const res = await call(admin, 'GET', '/health')
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ status: 'ok', l2: null, problems: [] })
    expect(res.json.l1).toMatchObject({ entries: 0, bytes: 0 })
  })
})

describe('with a shared tier', () => {
  async function rig() {
    const tier = new FakeTier()
    const engine = new CacheEngine({ rules, store: { l2: tier } })
    await engine.start()
    return { tier, engine, admin: createAdmin(engine, { tokens: TOKEN }) }
  }

  test('GET /health: 503 with the reason when the bus is down, 200 once it is back', async () => {
    const { tier, admin } = await rig()
    expect((await call(admin, 'GET', '/health')).json).toMatchObject({
      status: 'ok',
      l2: { name: 'fake', breaker: 'closed', trusted: true },
    })
    tier.isTrusted = false
    const down = await call(admin, 'GET', '/health')
    expect(down.status).toBe(503)
    expect(down.json).toMatchObject({ status: 'degraded', l2: { trusted: false } })
    expect(down.json.problems).toEqual([expect.stringMatching(/bus is not healthy/)])
    tier.isTrusted = true
    expect((await call(admin, 'GET', '/health')).status).toBe(200)
  })

  test('POST /invalidate: 503 when the shared tier cannot confirm it, recorded as failed', async () => {
    const { tier, engine, admin } = await rig()
    tier.behaviour.invalidate = 'fail'
    const res = await call(admin, 'POST', '/invalidate', { body: { user: 'u1' } })
    expect(res.status).toBe(503)
    expect(res.headers['Retry-After']).toBe('1')
    expect(res.json).toMatchObject({ ok: false, by: 'admin', users: ['u1'] })
    expect(res.json.error).toMatch(/could not be confirmed: fake invalidate failed/)
    expect(engine.recentInvalidations()).toEqual([
      expect.objectContaining({ by: 'admin', users: ['u1'], ok: false }),
    ])
  })
})
