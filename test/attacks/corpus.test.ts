import { rawRequest } from '../support/raw-http'
import { adapters, jsonBody, type Reply, type RunningShop, startShop } from '../support/shops'

// The attack corpus: one case per attack on a shared cache, run against both
// shops over real HTTP. Each case sends what an attacker would, then what a
// victim would, and checks that the victim never gets what only the attacker
// sent, and how many times the origin ran.
//
// `GET /reflect/:id` (rule: ttl 60 s, key = path + `lang`) is the careless
// route: it puts every request header and query parameter it was given in its
// body, and builds a self link from X-Forwarded-Proto / X-Forwarded-Host.

/** Request headers that a route could reflect or act on, none of them in the key. */
const UNKEYED_HEADERS = [
  // Client identity and location.
  'x-forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'cf-ipcountry',
  'x-country',
  'x-geo-country',
  'x-timezone',
  // Negotiation and client hints.
  'user-agent',
  'accept',
  'accept-language',
  'accept-charset',
  'x-locale',
  'x-language',
  'sec-ch-ua',
  'sec-ch-ua-mobile',
  'sec-fetch-site',
  'sec-fetch-mode',
  'save-data',
  'dnt',
  'x-wap-profile',
  'x-device',
  'x-mobile',
  'upgrade-insecure-requests',
  // Navigation context.
  'referer',
  'origin',
  'x-requested-with',
  'x-csrf-token',
  // Tracing.
  'via',
  'x-request-id',
  'x-correlation-id',
  'traceparent',
  'tracestate',
  'x-amzn-trace-id',
  'max-forwards',
  // App switches.
  'x-api-version',
  'api-version',
  'x-version',
  'x-debug',
  'x-env',
  'x-tenant',
  'x-user-id',
  'x-user',
  'x-auth-user',
  'x-role',
  'x-feature-flags',
  'x-ab-test',
  'x-experiment',
  'x-middleware-subrequest',
  'x-invoke-path',
  'x-proxy-url',
  'x-http-destinationurl',
  // Client-side cache directives and partial requests.
  'pragma',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'content-type',
]

/** Headers with which a proxy says what URL the client asked for: such requests are bypassed. */
const FORWARDING = [
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-scheme',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-ssl',
  'x-forwarded-uri',
  'x-forwarded-path',
  'x-original-url',
  'x-original-uri',
  'x-original-host',
  'x-rewrite-url',
  'x-host',
  'x-http-host-override',
  'x-url-scheme',
  'front-end-https',
]

const MARK = 'attacker7q2w'

/** A GET read with a header limit of 64 KiB (Node's client stops at 16 KiB). */
function rawGet(base: string, path: string) {
  return rawRequest(base, path, { maxHeaderSize: 64 * 1024 })
}

function text(reply: Reply): string {
  return reply.body.toString('utf8')
}

describe.each(adapters)('attack corpus: $name shop', ({ createShop }) => {
  let shop: RunningShop
  let next = 0
  /** A fresh cache key for each case. */
  const fresh = () => `/reflect/k${next++}`

  beforeAll(async () => {
    shop = await startShop(createShop)
  })
  afterAll(async () => {
    await shop.close()
  })

  async function originRuns<T>(fn: () => Promise<T>): Promise<[T, number]> {
    const before = (await shop.calls()).byRoute['GET /reflect/:id'] ?? 0
    const out = await fn()
    const after = (await shop.calls()).byRoute['GET /reflect/:id'] ?? 0
    return [out, after - before]
  }

  /** The victim's two requests after the attack: neither carries the mark, the second is a hit. */
  async function victim(path: string): Promise<void> {
    const first = await shop.send({ path })
    expect(first.status).toBe(200)
    expect(text(first)).not.toContain(MARK)
    const second = await shop.send({ path })
    expect(second.headers['x-cache']).toBe('HIT')
    expect(text(second)).not.toContain(MARK)
  }

  it.each(UNKEYED_HEADERS)(
    'an unkeyed %s never reaches the route of a stored response',
    async (header) => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const attack = await shop.send({ path, headers: { [header]: MARK } })
        expect(attack.headers['x-cache']).toBe('MISS')
        // The route did not see it, so the stored body cannot hold it.
        expect(text(attack)).not.toContain(MARK)
        await victim(path)
      })
      expect(runs).toBe(1)
    },
  )

  it.each(FORWARDING)('a request with an unkeyed %s is bypassed, never stored', async (header) => {
    const path = fresh()
    const [, runs] = await originRuns(async () => {
      const attack = await shop.send({ path, headers: { [header]: `${MARK}.example` } })
      expect(attack.headers['x-cache']).toBe('BYPASS')
      expect(attack.headers['cache-status']).toBe('cachet; fwd=bypass; detail=forwarded')
      await victim(path)
    })
    // The bypassed attack, then the victim's miss and hit.
    expect(runs).toBe(2)
  })

  it('X-Forwarded-Host cannot rewrite the stored self link (the classic poisoning)', async () => {
    const path = fresh()
    const [, runs] = await originRuns(async () => {
      const attack = await shop.send({ path, headers: { 'x-forwarded-host': 'evil.example' } })
      expect((jsonBody(attack) as { link: string }).link).toContain('evil.example')
      const plain = await shop.send({ path })
      expect(plain.headers['x-cache']).toBe('MISS')
      const hit = await shop.send({ path })
      expect(hit.headers['x-cache']).toBe('HIT')
      expect((jsonBody(hit) as { link: string }).link).not.toContain('evil.example')
    })
    expect(runs).toBe(2)
  })

  describe('parameter cloaking', () => {
    it('an unkeyed parameter is removed before the route runs', async () => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const attack = await shop.send({ path: `${path}?lang=fr&utm_content=${MARK}` })
        expect(attack.headers['x-cache']).toBe('MISS')
        expect(jsonBody(attack)).toMatchObject({ url: `${path}?lang=fr`, query: { lang: 'fr' } })
        expect(text(attack)).not.toContain(MARK)
        const hit = await shop.send({ path: `${path}?lang=fr` })
        expect(hit.headers['x-cache']).toBe('HIT')
        expect(text(hit)).not.toContain(MARK)
      })
      expect(runs).toBe(1)
    })

    it("qs's bracket form of a keyed name (lang[0]) is another name, removed", async () => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const attack = await shop.send({ path: `${path}?lang[0]=${MARK}` })
        expect(jsonBody(attack)).toMatchObject({ url: path, query: {} })
        await victim(path)
      })
      // The attack filled the plain path's entry with a clean body: the victim's first is a hit too.
      expect(runs).toBe(1)
    })

    it('an encoded keyed name (l%61ng) is the keyed name, in the key and in the route', async () => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const a = await shop.send({ path: `${path}?l%61ng=fr&x=${MARK}` })
        expect(jsonBody(a)).toMatchObject({ query: { lang: 'fr' } })
        expect(text(a)).not.toContain(MARK)
        const hit = await shop.send({ path: `${path}?lang=fr` })
        expect(hit.headers['x-cache']).toBe('HIT')
      })
      expect(runs).toBe(1)
    })

    it("a semicolon is no delimiter: 'lang=fr;x=…' is one value, its own key", async () => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const a = await shop.send({ path: `${path}?lang=fr;x=${MARK}` })
        expect(jsonBody(a)).toMatchObject({ query: { lang: `fr;x=${MARK}` } })
        const b = await shop.send({ path: `${path}?lang=fr` })
        expect(b.headers['x-cache']).toBe('MISS')
        expect(text(b)).not.toContain(MARK)
      })
      expect(runs).toBe(2)
    })

    it('duplicates keep their order: ?lang=fr&lang=en and ?lang=en&lang=fr are two entries', async () => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const a = await shop.send({ path: `${path}?lang=fr&lang=en` })
        const b = await shop.send({ path: `${path}?lang=en&lang=fr` })
        expect(b.headers['x-cache']).toBe('MISS')
        expect(jsonBody(a)).toMatchObject({ query: { lang: ['fr', 'en'] } })
        expect(jsonBody(b)).toMatchObject({ query: { lang: ['en', 'fr'] } })
      })
      expect(runs).toBe(2)
    })

    it('an encoded delimiter stays inside its value: lang=a%26lang%3Db is not lang=a&lang=b', async () => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const a = await shop.send({ path: `${path}?lang=a%26lang%3Db` })
        const b = await shop.send({ path: `${path}?lang=a&lang=b` })
        expect(b.headers['x-cache']).toBe('MISS')
        expect(jsonBody(a)).toMatchObject({ query: { lang: 'a&lang=b' } })
        expect(jsonBody(b)).toMatchObject({ query: { lang: ['a', 'b'] } })
      })
      expect(runs).toBe(2)
    })

    it('more than 1000 parameters (past the parsers’ limit) are bypassed', async () => {
      const path = fresh()
      const flood = Array.from({ length: 1001 }, (_, i) => `p${i}=1`).join('&')
      const [, runs] = await originRuns(async () => {
        const attack = await shop.send({ path: `${path}?${flood}&lang=${MARK}` })
        expect(attack.headers['cache-status']).toBe('cachet; fwd=bypass; detail=query-params')
        await victim(`${path}?lang=${MARK}`.replace(MARK, 'fr'))
      })
      expect(runs).toBe(2)
    })
  })

  describe('method override', () => {
    it.each(['x-http-method-override', 'x-http-method', 'x-method-override'])(
      '%s: DELETE is bypassed, nothing stored',
      async (header) => {
        const path = fresh()
        const [, runs] = await originRuns(async () => {
          const a = await shop.send({ path, headers: { [header]: 'DELETE' } })
          expect(a.headers['cache-status']).toBe('cachet; fwd=bypass; detail=method-override')
          const b = await shop.send({ path })
          expect(b.headers['x-cache']).toBe('MISS')
        })
        expect(runs).toBe(2)
      },
    )

    it('?_method=DELETE is bypassed', async () => {
      const path = fresh()
      const [, runs] = await originRuns(async () => {
        const a = await shop.send({ path: `${path}?_method=DELETE` })
        expect(a.headers['cache-status']).toBe('cachet; fwd=bypass; detail=method-override')
        await victim(path)
      })
      expect(runs).toBe(2)
    })
  })

  it('a fat GET (a body the key does not hold) is bypassed', async () => {
    const path = fresh()
    const [, runs] = await originRuns(async () => {
      const a = await shop.send({ path, body: { lang: MARK } })
      expect(a.headers['cache-status']).toBe('cachet; fwd=bypass; detail=request-body')
      await victim(path)
    })
    expect(runs).toBe(2)
  })

  it('Authorization on a shared rule is bypassed: no user’s response is stored', async () => {
    const path = fresh()
    const [, runs] = await originRuns(async () => {
      const a = await shop.send({ path, headers: { authorization: `Bearer ${MARK}` } })
      expect(a.headers['cache-status']).toBe('cachet; fwd=bypass; detail=credentials')
      await victim(path)
    })
    expect(runs).toBe(2)
  })

  it('a Cookie on a shared rule is bypassed', async () => {
    const path = fresh()
    const [, runs] = await originRuns(async () => {
      const a = await shop.send({ path, headers: { cookie: `sid=${MARK}` } })
      expect(a.headers['cache-status']).toBe('cachet; fwd=bypass; detail=credentials')
      await victim(path)
    })
    expect(runs).toBe(2)
  })

  it('client directives cannot relax policy: max-stale, no-cache, public on a private response', async () => {
    const before = (await shop.calls()).byRoute['GET /private/:id'] ?? 0
    for (const cc of ['max-stale=3600', 'no-cache', 'public, max-age=3600']) {
      const reply = await shop.send({ path: '/private/9', headers: { 'cache-control': cc } })
      expect(reply.headers['x-cache']).toBe('BYPASS')
      expect(reply.headers['cache-status']).toBe('cachet; fwd=miss; detail=private')
    }
    // Nothing was stored: only-if-cached finds nothing, and does not reach the origin.
    const only = await shop.send({
      path: '/private/9',
      headers: { 'cache-control': 'only-if-cached' },
    })
    expect(only.status).toBe(504)
    const after = (await shop.calls()).byRoute['GET /private/:id'] ?? 0
    expect(after - before).toBe(3)
  })

  it('a response whose header block passes 16 KiB is never stored (header-oversize CPDoS)', async () => {
    const path = fresh()
    // The route reflects the keyed `lang` into two response headers: ~2 × 9 KB.
    const big = `${path}?lang=${'x'.repeat(9000)}`
    const [, runs] = await originRuns(async () => {
      for (let i = 0; i < 2; i++) {
        const reply = await rawGet(shop.url, big)
        expect(reply.status).toBe(200)
        expect(reply.headers['x-cache']).toBe('BYPASS')
        expect(reply.headers['cache-status']).toBe('cachet; fwd=miss; detail=header-size')
      }
      // An ordinary value of the same parameter is stored as usual.
      const small = await shop.send({ path: `${path}?lang=fr` })
      expect(small.headers['content-language']).toBe('fr')
      expect((await shop.send({ path: `${path}?lang=fr` })).headers['x-cache']).toBe('HIT')
    })
    expect(runs).toBe(3)
  })

  it('a 5xx is never stored', async () => {
    const before = (await shop.calls()).byRoute['GET /status/:code'] ?? 0
    for (let i = 0; i < 3; i++) {
      const reply = await shop.send({ path: '/status/503' })
      expect(reply.status).toBe(503)
      expect(reply.headers['x-cache']).not.toBe('HIT')
    }
    const after = (await shop.calls()).byRoute['GET /status/:code'] ?? 0
    expect(after - before).toBe(3)
  })
})

describe.each(adapters)('attack corpus, flood: $name shop', ({ createShop }) => {
  const BUDGET = 256 * 1024
  let shop: RunningShop
  beforeAll(async () => {
    shop = await startShop(createShop, { l1MaxBytes: BUDGET })
  })
  afterAll(async () => {
    await shop.close()
  })

  it('a high-cardinality query flood keeps the memory tier within its byte budget', async () => {
    const stats = () =>
      (
        shop.shop.cache.engine as unknown as {
          stats(): { l1: { entries: number; bytes: number; maxBytes: number; evictions: number } }
        }
      ).stats().l1
    const before = (await shop.calls()).byRoute['GET /reflect/:id'] ?? 0
    let maxBytes = 0
    const N = 1500
    for (let i = 0; i < N; i += 50) {
      // 50 at a time, each a distinct key (the keyed `lang`), plus unkeyed junk.
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          shop.send({ path: `/reflect/flood?lang=l${i + j}&junk=${'j'.repeat(200)}${i + j}` }),
        ),
      )
      maxBytes = Math.max(maxBytes, stats().bytes)
    }
    const l1 = stats()
    expect(l1.maxBytes).toBe(BUDGET)
    expect(maxBytes).toBeLessThanOrEqual(BUDGET)
    expect(l1.evictions).toBeGreaterThan(0)
    // Every request ran the route once (distinct keys), and none was answered from another's entry.
    const after = (await shop.calls()).byRoute['GET /reflect/:id'] ?? 0
    expect(after - before).toBe(N)
    const last = await shop.send({ path: `/reflect/flood?lang=l${N - 1}` })
    expect(last.headers['x-cache']).toBe('HIT')
    expect(jsonBody(last)).toMatchObject({ query: { lang: `l${N - 1}` } })
  })
})

describe.each(adapters)('attack corpus, concurrent: $name shop', ({ createShop }) => {
  let shop: RunningShop
  beforeAll(async () => {
    // Every origin call waits, so that concurrent requests overlap.
    shop = await startShop(createShop, { originDelayMs: 150 })
  })
  afterAll(async () => {
    await shop.close()
  })

  it('coalesced waiters never receive a leader’s Set-Cookie response', async () => {
    const before = (await shop.calls()).byRoute['GET /session'] ?? 0
    const replies = await Promise.all(
      Array.from({ length: 12 }, () => shop.send({ path: '/session' })),
    )
    const cookies = new Set(replies.map((r) => r.headers['set-cookie']))
    expect(cookies.size).toBe(12)
    for (const r of replies) expect(r.headers['x-cache']).toBe('BYPASS')
    const after = (await shop.calls()).byRoute['GET /session'] ?? 0
    expect(after - before).toBe(12)
  })

  it('an authorized request among concurrent cold ones is neither answered from nor stored as theirs', async () => {
    const path = '/reflect/concurrent'
    const before = (await shop.calls()).byRoute['GET /reflect/:id'] ?? 0
    const replies = await Promise.all([
      shop.send({ path, headers: { authorization: `Bearer ${MARK}`, 'x-user': MARK } }),
      ...Array.from({ length: 8 }, () => shop.send({ path })),
    ])
    const [authorized, ...others] = replies as [Reply, ...Reply[]]
    expect(authorized.headers['x-cache']).toBe('BYPASS')
    for (const r of others) expect(text(r)).not.toContain(MARK)
    expect(others.filter((r) => r.headers['x-cache'] === 'MISS')).toHaveLength(1)
    const after = (await shop.calls()).byRoute['GET /reflect/:id'] ?? 0
    // The bypassed request and one fill for the eight others.
    expect(after - before).toBe(2)
  })
})
