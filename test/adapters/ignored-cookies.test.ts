import { type CacheOptions, defaultIgnoredCookies } from '@cachet/core'
import request from 'supertest'
import { type ReflectApp, reflectApps, type Seen } from '../support/reflect-apps'

// Analytics cookies (`_ga`, `_gid`, …) never change a response. Varnish-style,
// they are stripped from the view of a miss's route and do not make a request
// bypass a shared rule; any other cookie still does.

describe.each(reflectApps)('$name ignored cookies', ({ build }) => {
  let app: ReflectApp
  afterEach(() => app.close())

  const get = (path: string, cookie?: string) => {
    const r = request(app.url).get(path)
    if (cookie !== undefined) r.set('cookie', cookie)
    return r
  }

  test('analytics cookies alone: cached, and the route of the miss never sees them', async () => {
    app = await build({ rules: [{ path: '/p/:id', ttl: 60 }] })
    const first = await get('/p/1', '_ga=GA1.2.3; _gid=x')
    expect(first.headers['x-cache']).toBe('MISS')
    expect((first.body as Seen).headers.cookie).toBeUndefined()
    const second = await get(
      '/p/1',
      '_ga=GA1.2.999; _ga_ABC123=GS1.1; _gat_UA-1=1; __utmz=1; _fbp=fb.1',
    )
    expect(second.headers['x-cache']).toBe('HIT')
    const none = await get('/p/1')
    expect(none.headers['x-cache']).toBe('HIT')
    expect(app.calls()).toBe(1)
  })

  test('another cookie beside them: bypassed as before', async () => {
    app = await build({ rules: [{ path: '/p/:id', ttl: 60 }] })
    const a = await get('/p/2', 'session=abc; _ga=1')
    expect(a.headers['cache-status']).toBe('cachet; fwd=bypass; detail=credentials')
    expect((a.body as Seen).headers.cookie).toBe('session=abc; _ga=1')
    // A name the default list matches only by a prefix of its own is not ignored.
    const b = await get('/p/2', '_gateway_session=1')
    expect(b.headers['cache-status']).toBe('cachet; fwd=bypass; detail=credentials')
    expect(app.calls()).toBe(2)
  })

  test('allowCredentials: the route sees the other cookies, without the ignored ones', async () => {
    app = await build({ rules: [{ path: '/p/:id', ttl: 60, allowCredentials: true }] })
    const a = await get('/p/3', '_ga=1; session=abc; _gid=2')
    expect(a.headers['x-cache']).toBe('MISS')
    expect((a.body as Seen).headers.cookie).toBe('session=abc')
    expect(app.calls()).toBe(1)
  })

  test('ignoreCookies: [] turns it off; a list extends or replaces the default', async () => {
    app = await build({
      rules: [
        { path: '/off/:id', ttl: 60, ignoreCookies: [] },
        {
          path: '/more/:id',
          ttl: 60,
          ignoreCookies: [...defaultIgnoredCookies, 'consent', 'ab_*'],
        },
      ],
    })
    const off = await get('/off/1', '_ga=1')
    expect(off.headers['cache-status']).toBe('cachet; fwd=bypass; detail=credentials')
    const more = await get('/more/1', 'consent=yes; ab_home=b; _ga=1')
    expect(more.headers['x-cache']).toBe('MISS')
    expect((more.body as Seen).headers.cookie).toBeUndefined()
    const hit = await get('/more/1', 'consent=no')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(app.calls()).toBe(2)
  })

  test('defaults.ignoreCookies applies to every cache rule', async () => {
    const options: CacheOptions = {
      rules: [{ path: '/p/:id', ttl: 60 }],
      defaults: { ignoreCookies: ['consent'] },
    }
    app = await build(options)
    const a = await get('/p/4', 'consent=yes')
    expect(a.headers['x-cache']).toBe('MISS')
    // The default replaced the built-in list: _ga is not ignored any more.
    const b = await get('/p/4', '_ga=1')
    expect(b.headers['cache-status']).toBe('cachet; fwd=bypass; detail=credentials')
    expect(app.calls()).toBe(2)
  })
})
