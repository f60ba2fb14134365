import request from 'supertest'
import { type ReflectApp, reflectApps, type Seen } from '../support/reflect-apps'

// The attack corpus for the relaxations of a trusted proxy and of ignored
// cookies: an attacker's request, then a victim's, over real HTTP on both
// adapters, counting the route's runs. The route is careless: it answers with
// the protocol and host the framework derived from the forwarding headers
// (the parts of a self link) and every header it was given.

const MARK = 'attacker7q2w'
/** What the proxy in front sends on every victim's request. */
const VICTIM = {
  'x-forwarded-for': '192.0.2.10',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'shop.example',
}

describe.each(reflectApps)(
  'attack corpus, trusted proxy and ignored cookies: $name',
  ({ build }) => {
    let app: ReflectApp
    let next = 0
    const fresh = () => `/r/k${next++}`

    beforeAll(async () => {
      app = await build({ rules: [{ path: '/r/:id', ttl: 60 }], proxy: { trusted: true } })
    })
    afterAll(() => app.close())

    const get = (path: string, headers: Record<string, string | string[]>) => {
      const r = request(app.url).get(path)
      for (const [name, value] of Object.entries(headers)) r.set(name, value as string)
      return r
    }

    async function runs<T>(fn: () => Promise<T>): Promise<number> {
      const before = app.calls()
      await fn()
      return app.calls() - before
    }

    /** The victim's miss and hit: neither carries the mark, and the link is the victim's own. */
    async function victim(path: string): Promise<void> {
      for (const expected of ['MISS', 'HIT']) {
        const reply = await get(path, VICTIM)
        expect(reply.headers['x-cache']).toBe(expected)
        const seen = reply.body as Seen
        expect(JSON.stringify(seen)).not.toContain(MARK)
        expect([seen.protocol, seen.host]).toEqual(['https', 'shop.example'])
      }
    }

    const poisons: Array<[string, Record<string, string | string[]>]> = [
      ['X-Forwarded-Host: evil', { ...VICTIM, 'x-forwarded-host': `${MARK}.example` }],
      [
        'X-Forwarded-Host twice (evil, then the real one)',
        {
          ...VICTIM,
          'x-forwarded-host': [`${MARK}.example`, 'shop.example'],
        },
      ],
      ['X-Forwarded-Proto: http', { ...VICTIM, 'x-forwarded-proto': 'http', 'x-mark': MARK }],
      [
        'X-Forwarded-Port',
        { ...VICTIM, 'x-forwarded-port': '1337', 'x-forwarded-prefix': `/${MARK}` },
      ],
      ['Forwarded: host=evil', { ...VICTIM, forwarded: `for=192.0.2.10;host=${MARK}.example` }],
      [
        'Forwarded: proto=http',
        { ...VICTIM, forwarded: 'for=192.0.2.10;proto=http', 'x-mark': MARK },
      ],
      // A for= whose quoted value hides the victim's parameters is not stripped into the victim's key.
      [
        'Forwarded: a quoted for= hiding parameters',
        {
          ...VICTIM,
          forwarded: `for="${MARK};proto=https";host=shop.example`,
        },
      ],
      ['Forwarded: an unbalanced quote', { ...VICTIM, forwarded: `for="${MARK};proto=https` }],
    ]

    it.each(poisons)('%s gets its own entry, never the victim’s', async (_name, headers) => {
      const path = fresh()
      const n = await runs(async () => {
        const attack = await get(path, headers)
        expect(attack.headers['x-cache']).toBe('MISS')
        await victim(path)
      })
      expect(n).toBe(2)
    })

    it('a client’s X-Forwarded-For never reaches another client (it is per request)', async () => {
      const path = fresh()
      const n = await runs(async () => {
        const attack = await get(path, { ...VICTIM, 'x-forwarded-for': `${MARK}` })
        expect(attack.headers['x-cache']).toBe('MISS')
        // The route saw it (the origin logs it) …
        expect((attack.body as Seen).headers['x-forwarded-for']).toBe(MARK)
        // … and a route that reflects it is the app's own choice: documented, not prevented.
        const hit = await get(path, VICTIM)
        expect(hit.headers['x-cache']).toBe('HIT')
      })
      expect(n).toBe(1)
    })

    it('an unlisted forwarding header (X-Original-URL) is still bypassed', async () => {
      const path = fresh()
      const n = await runs(async () => {
        const attack = await get(path, { ...VICTIM, 'x-original-url': `/${MARK}` })
        expect(attack.headers['cache-status']).toBe('cachet; fwd=bypass; detail=forwarded')
        await victim(path)
      })
      expect(n).toBe(2)
    })

    const cookies: Array<[string, string, 'stored' | 'bypassed']> = [
      ['an analytics cookie carrying the mark', `_ga=${MARK}`, 'stored'],
      ['a session cookie behind an analytics one', `_ga=1; session=${MARK}`, 'bypassed'],
      ['no space after the semicolon', `_ga=1;session=${MARK}`, 'bypassed'],
      [
        'a comma instead of a semicolon (one cookie to the frameworks)',
        `_ga=1, session=${MARK}`,
        'stored',
      ],
      ['a cookie without a value', `_ga=1; ${MARK}`, 'bypassed'],
      ['a prefix of an ignored name', `_gat${MARK}=1`, 'bypassed'],
      ['only empty parts and analytics', `; _gid=${MARK};;`, 'stored'],
    ]

    it.each(cookies)(
      'Cookie: %s is %s, and the route of a stored response never sees it',
      async (_name, cookie, fate) => {
        const path = fresh()
        const n = await runs(async () => {
          const attack = await get(path, { ...VICTIM, cookie })
          if (fate === 'bypassed') {
            expect(attack.headers['cache-status']).toBe('cachet; fwd=bypass; detail=credentials')
          } else {
            expect(attack.headers['x-cache']).toBe('MISS')
            expect(JSON.stringify(attack.body)).not.toContain(MARK)
            expect((attack.body as Seen).headers.cookie).toBeUndefined()
          }
          const first = await get(path, VICTIM)
          expect(first.headers['x-cache']).toBe(fate === 'stored' ? 'HIT' : 'MISS')
          expect(JSON.stringify(first.body)).not.toContain(MARK)
        })
        expect(n).toBe(fate === 'stored' ? 1 : 2)
      },
    )
  },
)
