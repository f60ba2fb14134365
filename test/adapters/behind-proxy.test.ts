import type { CacheOptions } from '@cachet/core'
import request from 'supertest'
import { type ReflectApp, reflectApps, type Seen } from '../support/reflect-apps'

// Behind a reverse proxy (nginx, an ALB, a k8s ingress) every request carries
// X-Forwarded-For and X-Forwarded-Proto. With `proxy: { trusted: true }` such
// an app caches as it does locally: the client address is no part of the key
// but reaches the route of a miss (and what the framework derives from it),
// and the forwarding headers that can change a representation are keyed.
// Without it, the safe default stands: such requests are bypassed.

const rules: CacheOptions['rules'] = [{ path: '/p/:id', ttl: 60 }]

describe.each(reflectApps)('$name behind a proxy', ({ build }) => {
  let app: ReflectApp
  afterEach(() => app.close())

  const get = (path: string, headers: Record<string, string>) => {
    const r = request(app.url).get(path)
    for (const [name, value] of Object.entries(headers)) r.set(name, value)
    return r
  }

  test('trusted: the client address is not in the key, but reaches the route of a miss', async () => {
    app = await build({ rules, proxy: { trusted: true } })
    const first = await get('/p/1', {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
    })
    expect(first.headers['x-cache']).toBe('MISS')
    expect(app.calls()).toBe(1)
    const seen = first.body as Seen
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7')
    // Express's req.ip (trust proxy) and Koa's ctx.ip (app.proxy) derive from it.
    expect(seen.ip).toBe('203.0.113.7')
    expect(seen.protocol).toBe('https')

    const other = await get('/p/1', {
      'x-forwarded-for': '198.51.100.9',
      'x-forwarded-proto': 'https',
    })
    expect(other.headers['x-cache']).toBe('HIT')
    expect(app.calls()).toBe(1)

    // Another protocol is another representation: its own entry.
    const http = await get('/p/1', {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'http',
    })
    expect(http.headers['x-cache']).toBe('MISS')
    expect((http.body as Seen).protocol).toBe('http')
    expect(app.calls()).toBe(2)
    const again = await get('/p/1', { 'x-forwarded-for': '192.0.2.1', 'x-forwarded-proto': 'http' })
    expect(again.headers['x-cache']).toBe('HIT')
    expect((again.body as Seen).protocol).toBe('http')
    expect(app.calls()).toBe(2)
  })

  test('trusted: Forwarded is keyed without its for= (the client address)', async () => {
    app = await build({ rules, proxy: { trusted: true } })
    const a = await get('/p/2', { forwarded: 'for=203.0.113.7;proto=https' })
    expect(a.headers['x-cache']).toBe('MISS')
    expect((a.body as Seen).headers.forwarded).toBe('for=203.0.113.7;proto=https')
    const b = await get('/p/2', { forwarded: 'for="[2001:db8::1]";proto=https' })
    expect(b.headers['x-cache']).toBe('HIT')
    expect(app.calls()).toBe(1)
    const c = await get('/p/2', { forwarded: 'for=203.0.113.7;proto=http' })
    expect(c.headers['x-cache']).toBe('MISS')
    expect(app.calls()).toBe(2)
  })

  test('trusted: X-Forwarded-Host and -Port are keyed', async () => {
    app = await build({ rules, proxy: { trusted: true } })
    await get('/p/3', { 'x-forwarded-host': 'shop.example' })
    const other = await get('/p/3', { 'x-forwarded-host': 'other.example' })
    expect(other.headers['x-cache']).toBe('MISS')
    const port = await get('/p/3', {
      'x-forwarded-host': 'shop.example',
      'x-forwarded-port': '8443',
    })
    expect(port.headers['x-cache']).toBe('MISS')
    const hit = await get('/p/3', { 'x-forwarded-host': 'shop.example' })
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(app.calls()).toBe(3)
  })

  test('trusted: a forwarding header the proxy does not set is still bypassed', async () => {
    app = await build({
      rules,
      proxy: { trusted: true, headers: ['x-forwarded-for', 'x-forwarded-proto'] },
    })
    const host = await get('/p/4', { 'x-forwarded-host': 'evil.example' })
    expect(host.headers['cache-status']).toBe('cachet; fwd=bypass; detail=forwarded')
    const rewrite = await get('/p/4', { 'x-original-url': '/admin' })
    expect(rewrite.headers['cache-status']).toBe('cachet; fwd=bypass; detail=forwarded')
    const plain = await get('/p/4', {
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '192.0.2.1',
    })
    expect(plain.headers['x-cache']).toBe('MISS')
    expect(app.calls()).toBe(3)
  })

  test('not trusted (the default): a forwarded request is bypassed and the address never reaches a stored response', async () => {
    app = await build({ rules })
    const fwd = await get('/p/5', {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
    })
    expect(fwd.headers['cache-status']).toBe('cachet; fwd=bypass; detail=forwarded')
    const xff = await get('/p/5', { 'x-forwarded-for': '203.0.113.7' })
    expect(xff.headers['x-cache']).toBe('MISS')
    expect((xff.body as Seen).headers['x-forwarded-for']).toBeUndefined()
    expect(app.calls()).toBe(2)
  })
})
