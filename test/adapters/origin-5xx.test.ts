import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheRule } from '@cachet/core'
import { send } from '../support/shops'
import { type Respond, type SmallApp, smallApps } from '../support/small-apps'

// `statuses: 'any'` lets an origin-driven rule store a 5xx that says how long
// it keeps; never over a copy it was refreshing: the origin failed, and the
// good copy stays (RFC 9111 §4.3.3). Over real HTTP on the three adapters.

const rules: CacheRule[] = [{ path: '/o/:id', ttl: 'origin', statuses: 'any' }]

const respond: Respond = ({ path }, count) => {
  const n = count(path)
  if (n === 1)
    return {
      body: 'good',
      status: 200,
      headers: { 'cache-control': 'max-age=1, stale-while-revalidate=30' },
    }
  return { body: 'down', status: 503, headers: { 'cache-control': 'max-age=300' } }
}

const running: SmallApp[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()))
})

describe.each(smallApps)('%s', (_, build) => {
  test('a refresh answered 503 with max-age leaves the good copy in place', async () => {
    const app = await build({ rules }, false, respond)
    running.push(app)
    const get = async () => {
      const r = await send(app.url, { method: 'GET', path: '/o/1' })
      return [r.status, r.headers['x-cache'], r.body.toString()]
    }
    expect(await get()).toEqual([200, 'MISS', 'good'])
    await sleep(1100)
    // Stale: answered with the good copy while a refresh runs, and fails.
    expect(await get()).toEqual([200, 'STALE', 'good'])
    for (let i = 0; i < 200 && (app.calls.get('/o/1') ?? 0) < 2; i++) await sleep(5)
    await sleep(50)
    expect(await get()).toEqual([200, 'STALE', 'good'])
    expect(app.calls.get('/o/1')).toBeGreaterThanOrEqual(2)
  })
})
