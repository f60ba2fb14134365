import type { CacheRule } from '@cachet/core'
import { send } from '../support/shops'
import { type Respond, type SmallApp, smallApps } from '../support/small-apps'

// A byte range of a stored 200, answered from the cache on the three
// adapters (RFC 9110 §14): 206 with Content-Range, the whole copy (200)
// where a range cannot be served from it, never a route run.

const rules: CacheRule[] = [{ path: '/file/:id', ttl: '1m' }]
const BODY = '0123456789abcdef'
const respond: Respond = ({ path }, count) => {
  count(path)
  return { body: BODY }
}

const running: SmallApp[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()))
})

describe.each(smallApps)('%s', (_, build) => {
  test('ranges of a stored copy: 206 for one satisfiable range, the whole copy otherwise', async () => {
    const app = await build({ rules }, false, respond)
    running.push(app)
    const get = async (headers: Record<string, string>) => {
      const r = await send(app.url, { method: 'GET', path: '/file/1', headers })
      return [r.status, r.headers['content-range'], r.headers['x-cache'], r.body.toString()]
    }
    // A miss with a Range: the route's whole answer (nothing stored is sliced).
    expect(await get({ range: 'bytes=0-3' })).toEqual([200, undefined, 'MISS', BODY])
    const etag = (await send(app.url, { method: 'GET', path: '/file/1' })).headers.etag as string

    expect(await get({ range: 'bytes=0-3' })).toEqual([206, 'bytes 0-3/16', 'HIT', '0123'])
    expect(await get({ range: 'bytes=10-' })).toEqual([206, 'bytes 10-15/16', 'HIT', 'abcdef'])
    expect(await get({ range: 'bytes=-4' })).toEqual([206, 'bytes 12-15/16', 'HIT', 'cdef'])
    expect(await get({ range: 'bytes=14-99' })).toEqual([206, 'bytes 14-15/16', 'HIT', 'ef'])
    // If-Range needs a strong entity tag (§13.1.5): Express's own are weak.
    expect(await get({ range: 'bytes=0-3', 'if-range': etag })).toEqual(
      etag.startsWith('W/') ? [200, undefined, 'HIT', BODY] : [206, 'bytes 0-3/16', 'HIT', '0123'],
    )
    // The whole copy: several ranges, past the end, another unit, a stale If-Range.
    const whole: Array<Record<string, string>> = [
      { range: 'bytes=0-1,4-5' },
      { range: 'bytes=99-' },
      { range: 'lines=0-3' },
      { range: 'bytes=0-3', 'if-range': '"other"' },
    ]
    for (const headers of whole) expect(await get(headers)).toEqual([200, undefined, 'HIT', BODY])
    // HEAD ignores Range (§14.2): the whole copy's head.
    const headed = await send(app.url, {
      method: 'HEAD',
      path: '/file/1',
      headers: { range: 'bytes=0-3' },
    })
    expect([headed.status, headed.headers['content-length'], headed.body.length]).toEqual([
      200,
      '16',
      0,
    ])
    expect(app.calls.get('/file/1')).toBe(1)
  })
})
