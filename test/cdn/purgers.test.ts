import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { PurgeBatch, PurgeResult, Purger } from '../../packages/core/src/cdn/purger'
import {
  akamaiPurger,
  bunnyPurger,
  cloudflarePurger,
  cloudfrontPurger,
  edgeGridAuthorization,
  fastlyPurger,
  netlifyPurger,
  signV4,
  vercelPurger,
} from '../../packages/core/src/cdn/purgers'
import { CachetConfigError } from '../../packages/core/src/errors'
import {
  AKAMAI,
  AKAMAI_MAX_BODY,
  BUNNY,
  CLOUDFLARE,
  CLOUDFRONT,
  type CloudfrontBatch,
  FASTLY,
  type FakeCdn,
  fakeAkamai,
  fakeBunny,
  fakeCloudflare,
  fakeCloudfront,
  fakeFastly,
  fakeNetlify,
  fakeVercel,
  NETLIFY,
  type RecordedRequest,
  VERCEL,
} from './fake-cdns'

// Each purger against a local fake of its CDN's purge API (fake-cdns.ts), over
// real HTTP on 127.0.0.1: the call the CDN sees (path, credentials, body),
// which failures may be retried and after how long, credentials kept out of
// every error even when the CDN echoes them, and the factories' option checks.
// Every test counts the requests the fake received.

const running: FakeCdn<unknown>[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((f) => f.close()))
})

async function started<B>(fake: Promise<FakeCdn<B>>): Promise<FakeCdn<B>> {
  const f = await fake
  running.push(f as FakeCdn<unknown>)
  return f
}

const signal = () => AbortSignal.timeout(10_000)
const tagsOf = (...tags: string[]): PurgeBatch => ({ tags, paths: [] })

/** A loopback URL nothing listens on: a server's, once closed. */
async function closedUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

type Factory = (options: Record<string, unknown>) => Purger
/** The factories take typed options; these tests also give them wrong ones. */
const loosely = <O>(factory: (options: O) => Purger) => factory as unknown as Factory

/** A failed result, checked: its status, whether it is retried, no credential in its text. */
function expectFailure(
  result: PurgeResult,
  expected: { status?: number; retry: boolean },
  secrets: readonly string[],
): Extract<PurgeResult, { ok: false }> {
  expect(result).toMatchObject({ ok: false, ...expected })
  if (result.ok) throw new Error('unreachable')
  expect(result.error).not.toBe('')
  for (const secret of secrets) expect(result.error).not.toContain(secret)
  return result
}

interface Case {
  readonly name: string
  readonly start: () => Promise<FakeCdn>
  readonly factory: Factory
  /** Valid options, but for `endpoint`. */
  readonly options: Record<string, unknown>
  readonly batch: PurgeBatch
  readonly okStatus: number
  /** What the CDN must receive for `batch`. */
  readonly path: string
  readonly body: unknown
  readonly authenticated: (r: RecordedRequest<unknown>) => void
  /** A wrong credential, which the fake quotes back when refusing it. */
  readonly wrong: Record<string, string>
  readonly refusedStatus: number
  /** The CDN's rate-limit answer, and the wait it asks for: [at least, at most] ms. */
  readonly rateLimit: { status: number; waitMs: [number, number] | undefined }
  readonly required: readonly string[]
}

const secretsOf = (c: Case): string[] =>
  [...Object.entries(c.options), ...Object.entries(c.wrong)]
    .filter(([k]) => /token|secret|key/i.test(k))
    .map(([, v]) => String(v))

const cases: Case[] = [
  {
    name: 'fastly',
    start: () => fakeFastly(),
    factory: loosely(fastlyPurger),
    options: { serviceId: FASTLY.serviceId, token: FASTLY.token },
    batch: tagsOf('product-1', 'category-shoes'),
    okStatus: 200,
    path: `/service/${FASTLY.serviceId}/purge`,
    body: { surrogate_keys: ['product-1', 'category-shoes'] },
    authenticated: (r) => {
      expect(r.headers['fastly-key']).toBe(FASTLY.token)
      expect(r.headers['fastly-soft-purge']).toBeUndefined()
    },
    wrong: { token: 'wrong-fastly-token-123' },
    refusedStatus: 403,
    // Fastly-RateLimit-Reset: 30 s from now, in whole epoch seconds.
    rateLimit: { status: 429, waitMs: [28_000, 31_000] },
    required: ['serviceId', 'token'],
  },
  {
    name: 'cloudflare',
    start: () => fakeCloudflare(),
    factory: loosely(cloudflarePurger),
    options: { zoneId: CLOUDFLARE.zoneId, token: CLOUDFLARE.token },
    batch: tagsOf('product-1', 'category-shoes'),
    okStatus: 200,
    path: `/client/v4/zones/${CLOUDFLARE.zoneId}/purge_cache`,
    body: { tags: ['product-1', 'category-shoes'] },
    authenticated: (r) => expect(r.headers.authorization).toBe(`Bearer ${CLOUDFLARE.token}`),
    wrong: { token: 'wrong-cf-token-456' },
    refusedStatus: 403,
    rateLimit: { status: 429, waitMs: [7_000, 7_000] },
    required: ['zoneId', 'token'],
  },
  {
    name: 'akamai',
    start: () => fakeAkamai(),
    factory: loosely(akamaiPurger),
    options: {
      host: AKAMAI.host,
      clientToken: AKAMAI.clientToken,
      clientSecret: AKAMAI.clientSecret,
      accessToken: AKAMAI.accessToken,
    },
    batch: tagsOf('product-1', 'category-shoes'),
    okStatus: 201,
    path: '/ccu/v3/delete/tag/production',
    body: { objects: ['product-1', 'category-shoes'] },
    // The fake recomputed the signature; this is its shape.
    authenticated: (r) =>
      expect(r.headers.authorization).toMatch(
        new RegExp(
          `^EG1-HMAC-SHA256 client_token=${AKAMAI.clientToken};access_token=${AKAMAI.accessToken};timestamp=\\d{8}T\\d{2}:\\d{2}:\\d{2}\\+0000;nonce=[0-9a-f-]{36};signature=[A-Za-z0-9+/]+=*$`,
        ),
      ),
    wrong: { clientToken: 'akab-wrong-client-token-789' },
    refusedStatus: 401,
    // No wait given: 5 s.
    rateLimit: { status: 429, waitMs: [5_000, 5_000] },
    required: ['host', 'clientToken', 'clientSecret', 'accessToken'],
  },
  {
    name: 'cloudfront',
    start: () => fakeCloudfront() as Promise<FakeCdn>,
    factory: loosely(cloudfrontPurger),
    options: {
      distributionId: CLOUDFRONT.distributionId,
      accessKeyId: CLOUDFRONT.accessKeyId,
      secretAccessKey: CLOUDFRONT.secretAccessKey,
    },
    batch: tagsOf('product-1', 'category-shoes'),
    okStatus: 201,
    path: `/2020-05-31/distribution/${CLOUDFRONT.distributionId}/invalidation`,
    body: expect.objectContaining({ quantity: 2, paths: ['#product-1', '#category-shoes'] }),
    authenticated: (r) => {
      expect(r.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/cloudfront\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
      )
      expect(r.headers['x-amz-security-token']).toBeUndefined()
    },
    wrong: { accessKeyId: 'AKIAWRONGKEYEXAMPLE0' },
    refusedStatus: 403,
    // Throttling is a 400 with <Code>Throttling</Code>, and no wait.
    rateLimit: { status: 400, waitMs: undefined },
    required: ['distributionId', 'accessKeyId', 'secretAccessKey'],
  },
  {
    name: 'bunny',
    start: () => fakeBunny(),
    factory: loosely(bunnyPurger),
    options: { pullZoneId: BUNNY.pullZoneId, accessKey: BUNNY.accessKey },
    batch: tagsOf('product-1'),
    okStatus: 204,
    path: `/pullzone/${BUNNY.pullZoneId}/purgeCache`,
    body: { CacheTag: 'product-1' },
    authenticated: (r) => expect(r.headers.accesskey).toBe(BUNNY.accessKey),
    wrong: { accessKey: 'wrong-bunny-key-0000' },
    refusedStatus: 401,
    rateLimit: { status: 429, waitMs: [3_000, 3_000] },
    required: ['pullZoneId', 'accessKey'],
  },
  {
    name: 'vercel',
    start: () => fakeVercel(),
    factory: loosely(vercelPurger),
    options: {
      token: VERCEL.token,
      projectIdOrName: VERCEL.projectIdOrName,
      teamId: VERCEL.teamId,
    },
    batch: tagsOf('product-1', 'category-shoes'),
    okStatus: 200,
    path: '/v1/edge-cache/dangerously-delete-by-tags',
    body: { tags: ['product-1', 'category-shoes'] },
    authenticated: (r) => {
      expect(r.headers.authorization).toBe(`Bearer ${VERCEL.token}`)
      expect(Object.fromEntries(r.url.searchParams)).toEqual({
        projectIdOrName: VERCEL.projectIdOrName,
        teamId: VERCEL.teamId,
      })
    },
    wrong: { token: 'wrong-vercel-token-abc' },
    refusedStatus: 403,
    // X-RateLimit-Reset: 20 s from now, in whole epoch seconds.
    rateLimit: { status: 429, waitMs: [18_000, 21_000] },
    required: ['token', 'projectIdOrName'],
  },
  {
    name: 'netlify',
    start: () => fakeNetlify(),
    factory: loosely(netlifyPurger),
    options: { token: NETLIFY.token, siteId: NETLIFY.siteId },
    batch: tagsOf('product-1', 'category-shoes'),
    okStatus: 202,
    path: '/api/v1/purge',
    body: { site_id: NETLIFY.siteId, cache_tags: ['product-1', 'category-shoes'] },
    authenticated: (r) => expect(r.headers.authorization).toBe(`Bearer ${NETLIFY.token}`),
    wrong: { token: 'wrong-netlify-token-def' },
    refusedStatus: 401,
    rateLimit: { status: 429, waitMs: [43_000, 46_000] },
    required: ['token', 'siteId'],
  },
]

describe.each(cases)('$name', (c) => {
  const secrets = secretsOf(c)
  const make = (url: string, change: Record<string, unknown> = {}) =>
    c.factory({ ...c.options, endpoint: url, ...change })

  test('a tag purge is one request, with the credentials and the body the CDN wants', async () => {
    const fake = await started(c.start())
    const purger = make(fake.url)
    expect(purger.name).toBe(c.name)
    expect(purger.soft).toBe(false)
    expect(await purger.send(c.batch, signal())).toEqual({ ok: true, status: c.okStatus })
    expect(fake.requests).toHaveLength(1)
    const [r] = fake.requests as [RecordedRequest<unknown>]
    expect(r.method).toBe('POST')
    expect(r.url.pathname).toBe(c.path)
    expect(r.body).toEqual(c.body)
    expect(r.status).toBe(c.okStatus)
    c.authenticated(r)
  })

  test("a rate limit is retried, after the CDN's own wait", async () => {
    const fake = await started(c.start())
    fake.failNext('rate-limit')
    const result = expectFailure(
      await make(fake.url).send(c.batch, signal()),
      { status: c.rateLimit.status, retry: true },
      secrets,
    )
    if (c.rateLimit.waitMs === undefined) expect(result.retryAfterMs).toBeUndefined()
    else {
      expect(result.retryAfterMs).toBeGreaterThanOrEqual(c.rateLimit.waitMs[0])
      expect(result.retryAfterMs).toBeLessThanOrEqual(c.rateLimit.waitMs[1])
    }
    // Once the limit has passed, the same call goes through.
    expect(await make(fake.url).send(c.batch, signal())).toEqual({ ok: true, status: c.okStatus })
    expect(fake.requests.map((r) => r.status)).toEqual([c.rateLimit.status, c.okStatus])
  })

  test('a 500 is retried; a 400 is not', async () => {
    const fake = await started(c.start())
    const purger = make(fake.url)
    fake.failNext('server-error')
    expectFailure(await purger.send(c.batch, signal()), { status: 500, retry: true }, secrets)
    fake.failNext('bad-request')
    const refused = expectFailure(
      await purger.send(c.batch, signal()),
      { status: 400, retry: false },
      secrets,
    )
    // The CDN's own words, not just a status.
    expect(refused.error).toMatch(/^HTTP 400: \S/)
    expect(fake.requests).toHaveLength(2)
  })

  test('a wrong credential is refused, not retried, and kept out of the error', async () => {
    const fake = await started(c.start())
    const result = expectFailure(
      await make(fake.url, c.wrong).send(c.batch, signal()),
      { status: c.refusedStatus, retry: false },
      secrets,
    )
    // The fake quoted the credential back: taken out.
    expect(result.error).toContain('[redacted]')
    expect(fake.requests).toHaveLength(1)
  })

  test('a network error and an abort are retried', async () => {
    const closed = expectFailure(
      await make(await closedUrl()).send(c.batch, signal()),
      { retry: true },
      secrets,
    )
    expect(closed.error).toMatch(/^network error: .*ECONNREFUSED/)
    expect(closed.status).toBeUndefined()

    const fake = await started(c.start())
    const purger = make(fake.url)
    const before = expectFailure(
      await purger.send(c.batch, AbortSignal.abort()),
      { retry: true },
      secrets,
    )
    expect(before.error).toMatch(/^aborted/)
    expect(fake.requests).toHaveLength(0)
    // Aborted while the CDN says nothing.
    fake.failNext('hang')
    const during = expectFailure(
      await purger.send(c.batch, AbortSignal.timeout(200)),
      { retry: true },
      secrets,
    )
    expect(during.error).toMatch(/^aborted/)
    expect(fake.requests).toHaveLength(1)
  })

  test('a batch over the limits is refused without a request', async () => {
    const fake = await started(c.start())
    const purger = make(fake.url)
    const over: PurgeBatch = {
      tags: Array.from({ length: purger.maxTags + 1 }, (_, i) => `t${i}`),
      paths: [],
    }
    expectFailure(await purger.send(over, signal()), { retry: false }, secrets)
    if (purger.maxPaths === 0) {
      const paths = { tags: [], paths: ['/products/*'] }
      const result = expectFailure(await purger.send(paths, signal()), { retry: false }, secrets)
      expect(result.error).toContain('cannot purge by path')
    }
    expect(await purger.send({ tags: [], paths: [] }, signal())).toEqual({ ok: true, status: 0 })
    expect(fake.requests).toHaveLength(0)
  })

  test('bad options throw at once, naming the option', () => {
    const factory = `${c.name}Purger()`
    const throws = (options: unknown, pattern: RegExp) => {
      let thrown: unknown
      try {
        c.factory(options as Record<string, unknown>)
      } catch (err) {
        thrown = err
      }
      expect(thrown).toBeInstanceOf(CachetConfigError)
      expect((thrown as CachetConfigError).code).toBe('CACHET_INVALID_OPTION')
      expect((thrown as Error).message).toMatch(pattern)
      for (const secret of secrets) expect((thrown as Error).message).not.toContain(secret)
    }
    for (const name of c.required) {
      const { [name]: _, ...rest } = c.options
      throws(
        rest,
        new RegExp(`^${c.name}Purger\\(\\): option "${name}": expected .*, got undefined$`),
      )
    }
    throws(undefined, new RegExp(`^${c.name}Purger\\(\\): expected an options object`))
    throws(
      { ...c.options, endpont: 'http://x' },
      /unknown option "endpont" \(did you mean "endpoint"\?\)/,
    )
    throws(
      { ...c.options, endpoint: 'ftp://example.com' },
      /option "endpoint": expected an http\(s\) URL/,
    )
    throws({ ...c.options, endpoint: 'https://example.com/?x=1' }, /option "endpoint"/)
    // A credential with a space: its length is told, never the value.
    const [credential] = Object.keys(c.wrong) as [string]
    let message = ''
    try {
      c.factory({ ...c.options, [credential]: 'half of a secret' })
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toBe(
      `${factory}: option "${credential}": expected a non-empty string of visible ASCII characters, got a string of 16 characters`,
    )
  })
})

test('the message names the factory, the option, what was expected and what was given', () => {
  expect(() => fastlyPurger({ token: FASTLY.token } as never)).toThrow(
    'fastlyPurger(): option "serviceId": expected a non-empty string, got undefined',
  )
  expect(() => fastlyPurger({ ...FASTLY, soft: 'yes' } as never)).toThrow(
    'fastlyPurger(): option "soft": expected true or false, got "yes"',
  )
  expect(() =>
    akamaiPurger({ ...AKAMAI, host: 'https://akab-x.purge.akamaiapis.net' } as never),
  ).toThrow(/akamaiPurger\(\): option "host": expected a host name like .* \(no scheme, no path\)/)
  expect(() => akamaiPurger({ ...AKAMAI, network: 'prod' } as never)).toThrow(
    'akamaiPurger(): option "network": expected "production" or "staging", got "prod"',
  )
  expect(() => cloudflarePurger({ ...CLOUDFLARE, host: 'www.example.com/shop' })).toThrow(
    /option "host"/,
  )
  expect(() => bunnyPurger({ ...BUNNY, pullZoneId: 'zone-1' })).toThrow(
    /bunnyPurger\(\): option "pullZoneId": expected the pull zone's numeric id .*, got "zone-1"/,
  )
  expect(() => bunnyPurger({ ...BUNNY, pullZoneId: -3 })).toThrow(/option "pullZoneId"/)
})

describe('fastly', () => {
  test('soft purges say Fastly-Soft-Purge: 1', async () => {
    const fake = await started(fakeFastly())
    const purger = fastlyPurger({ ...FASTLY, soft: true, endpoint: fake.url })
    expect(purger.soft).toBe(true)
    expect(await purger.send(tagsOf('a'), signal())).toEqual({ ok: true, status: 200 })
    expect(fake.requests.map((r) => r.headers['fastly-soft-purge'])).toEqual(['1'])
  })

  test('a 429 with Retry-After alone waits that long; without any header, no wait is made up', async () => {
    const fake = await started(fakeFastly())
    const purger = fastlyPurger({ ...FASTLY, endpoint: fake.url })
    fake.failNext('rate-limit', 1, { headers: { 'retry-after': '12' } })
    expect(await purger.send(tagsOf('a'), signal())).toMatchObject({
      retry: true,
      retryAfterMs: 12_000,
    })
    fake.failNext('rate-limit', 1, { headers: {} })
    const bare = await purger.send(tagsOf('a'), signal())
    expect(bare).toMatchObject({ ok: false, status: 429, retry: true })
    expect(bare).not.toHaveProperty('retryAfterMs')
    expect(fake.requests).toHaveLength(2)
  })

  test('a 200 that is not the JSON object Fastly answers is a failure, retried', async () => {
    const fake = await started(fakeFastly())
    fake.failNext('server-error', 1, {
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<html><title>Captive portal</title></html>',
    })
    const result = await fastlyPurger({ ...FASTLY, endpoint: fake.url }).send(tagsOf('a'), signal())
    expect(result).toEqual({
      ok: false,
      status: 200,
      retry: true,
      error: 'unexpected answer: HTTP 200: Captive portal',
    })
  })

  test('a redirect is not followed (the credential header would go with it)', async () => {
    const fake = await started(fakeFastly())
    const elsewhere = await started(fakeFastly())
    fake.failNext('server-error', 1, {
      status: 307,
      headers: { location: `${elsewhere.url}/service/${FASTLY.serviceId}/purge` },
    })
    const result = await fastlyPurger({ ...FASTLY, endpoint: fake.url }).send(tagsOf('a'), signal())
    expect(result).toMatchObject({ ok: false, status: 307, retry: false })
    expect(elsewhere.requests).toHaveLength(0)
  })
})

describe('cloudflare', () => {
  test('soft purges go to invalidate_cache', async () => {
    const fake = await started(fakeCloudflare())
    const purger = cloudflarePurger({ ...CLOUDFLARE, soft: true, endpoint: fake.url })
    expect(purger.soft).toBe(true)
    expect(await purger.send(tagsOf('a'), signal())).toEqual({ ok: true, status: 200 })
    expect(fake.requests.map((r) => r.url.pathname)).toEqual([
      `/client/v4/zones/${CLOUDFLARE.zoneId}/invalidate_cache`,
    ])
  })

  test('without a host, no paths', () => {
    expect(cloudflarePurger(CLOUDFLARE).maxPaths).toBe(0)
    expect(cloudflarePurger({ ...CLOUDFLARE, host: 'www.example.com' }).maxPaths).toBe(100)
  })

  test('with a host, path patterns are purged as prefixes, from their literal start', async () => {
    const fake = await started(fakeCloudflare())
    const purger = cloudflarePurger({ ...CLOUDFLARE, host: 'WWW.example.com', endpoint: fake.url })
    const paths = [
      '/products/*',
      // A parameter in the middle: all of /a/ (more than the pattern matches).
      '/a/:id/b',
      // Inside a segment: back to the segment's start.
      '/p/x-:id',
      // An optional segment: /o and everything under it.
      '/o{/:page}',
      '/about',
      // Same prefix as the first: sent once.
      '/products/*rest',
    ]
    expect(await purger.send({ tags: [], paths }, signal())).toEqual({ ok: true, status: 200 })
    expect(fake.requests.map((r) => r.body)).toEqual([
      {
        prefixes: [
          'www.example.com/products/',
          'www.example.com/a/',
          'www.example.com/p/',
          'www.example.com/o',
          'www.example.com/about',
        ],
      },
    ])
  })

  test('tags and paths are two calls, tags first (a call purges one way only)', async () => {
    const fake = await started(fakeCloudflare())
    const purger = cloudflarePurger({ ...CLOUDFLARE, host: 'www.example.com', endpoint: fake.url })
    const batch = { tags: ['product-1'], paths: ['/products/*'] }
    expect(await purger.send(batch, signal())).toEqual({ ok: true, status: 200 })
    expect(fake.requests.map((r) => r.body)).toEqual([
      { tags: ['product-1'] },
      { prefixes: ['www.example.com/products/'] },
    ])
    // The first refused: the second is not sent.
    fake.failNext('rate-limit')
    expect(await purger.send(batch, signal())).toMatchObject({ ok: false, retry: true })
    expect(fake.requests).toHaveLength(3)
  })

  test("success: false in a 200 is a failure, in Cloudflare's words", async () => {
    const fake = await started(fakeCloudflare())
    fake.failNext('bad-request', 1, { status: 200 })
    const result = await cloudflarePurger({ ...CLOUDFLARE, endpoint: fake.url }).send(
      tagsOf('a'),
      signal(),
    )
    expect(result).toMatchObject({ ok: false, status: 200, retry: true })
    expect(!result.ok && result.error).toContain('Request must contain one of')
  })

  test('Retry-After as an HTTP date', async () => {
    const fake = await started(fakeCloudflare())
    const at = new Date(Date.now() + 60_000)
    fake.failNext('rate-limit', 1, { headers: { 'retry-after': at.toUTCString() } })
    const result = await cloudflarePurger({ ...CLOUDFLARE, endpoint: fake.url }).send(
      tagsOf('a'),
      signal(),
    )
    // The date has whole seconds.
    expect(!result.ok && result.retryAfterMs).toBeGreaterThan(58_000)
    expect(!result.ok && result.retryAfterMs).toBeLessThanOrEqual(60_000)
  })
})

describe('akamai', () => {
  // The fake checks signatures with its own code; this pins both to a value
  // another EdgeGrid client computed (Let's Encrypt Boulder's Akamai test).
  test('EdgeGrid signs as other clients do (a published vector)', () => {
    const header = edgeGridAuthorization(
      {
        clientToken: 'akab-client-token-xxx-xxxxxxxxxxxxxxxx',
        clientSecret: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=',
        accessToken: 'akab-access-token-xxx-xxxxxxxxxxxxxxxx',
      },
      'POST',
      new URL('https://akaa-baseurl-xxxxxxxxxxx-xxxxxxxxxxxxx.luna.akamaiapis.net/testapi/v1/t3'),
      'datadatadatadatadatadatadatadata',
      new Date(Date.UTC(2014, 2, 21, 19, 34, 21)),
      'nonce-xx-xxxx-xxxx-xxxx-xxxxxxxxxxxx',
    )
    expect(header).toBe(
      'EG1-HMAC-SHA256 client_token=akab-client-token-xxx-xxxxxxxxxxxxxxxx;access_token=akab-access-token-xxx-xxxxxxxxxxxxxxxx;timestamp=20140321T19:34:21+0000;nonce=nonce-xx-xxxx-xxxx-xxxx-xxxxxxxxxxxx;signature=hXm4iCxtpN22m4cbZb4lVLW5rhX8Ca82vCFqXzSTPe4=',
    )
  })

  test('soft purges invalidate; network picks staging', async () => {
    const fake = await started(fakeAkamai())
    const purger = akamaiPurger({ ...AKAMAI, soft: true, network: 'staging', endpoint: fake.url })
    expect(purger.soft).toBe(true)
    expect(await purger.send(tagsOf('a'), signal())).toEqual({ ok: true, status: 201 })
    expect(fake.requests.map((r) => r.url.pathname)).toEqual(['/ccu/v3/invalidate/tag/staging'])
  })

  test('a wrong client secret fails the signature check', async () => {
    const fake = await started(fakeAkamai())
    const secret = 'V3ryWr0ngS3cr3tXXXXXXXXXXXXXXXXXXXXXXXXXXX='
    const result = await akamaiPurger({ ...AKAMAI, clientSecret: secret, endpoint: fake.url }).send(
      tagsOf('a'),
      signal(),
    )
    expect(result).toEqual({
      ok: false,
      status: 401,
      retry: false,
      error: 'HTTP 401: Not authorized: The signature does not match',
    })
    expect(fake.requests).toHaveLength(1)
  })

  test('a batch over 50,000 bytes is cut into calls that fit, in turn', async () => {
    const fake = await started(fakeAkamai())
    const purger = akamaiPurger({ ...AKAMAI, endpoint: fake.url })
    expect(purger.maxTags).toBe(500)
    // 500 tags of 120 bytes: some 61,500 bytes of body.
    const tags = Array.from(
      { length: 500 },
      (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(117)}`,
    )
    expect(await purger.send(tagsOf(...tags), signal())).toEqual({ ok: true, status: 201 })
    expect(fake.requests).toHaveLength(2)
    for (const r of fake.requests) expect(r.raw.length).toBeLessThan(AKAMAI_MAX_BODY)
    expect(fake.requests.flatMap((r) => (r.body as { objects: string[] }).objects)).toEqual(tags)
  })

  test('the fake refuses a body over 50,000 bytes (one tag too long to cut)', async () => {
    const fake = await started(fakeAkamai())
    const result = await akamaiPurger({ ...AKAMAI, endpoint: fake.url }).send(
      tagsOf('x'.repeat(AKAMAI_MAX_BODY)),
      signal(),
    )
    expect(result).toMatchObject({ ok: false, status: 400, retry: false })
    expect(fake.requests).toHaveLength(1)
  })
})

describe('cloudfront', () => {
  // As for EdgeGrid: a value computed elsewhere (the S3 example of
  // czak.pl/2015/09/15/s3-rest-api-with-curl.html, same algorithm, service s3).
  test('SigV4 signs as other clients do (a published vector)', () => {
    const headers = signV4(
      {
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      },
      'GET',
      new URL('https://my-precious-bucket.s3.amazonaws.com/'),
      '',
      'us-east-1',
      's3',
      new Date(Date.UTC(2015, 8, 15, 12, 45, 0)),
    )
    expect(headers).toEqual({
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'x-amz-date': '20150915T124500Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150915/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=182072eb53d85c36b2d791a1fa46a12d23454ec1e921b02075c23aee40166d5a',
    })
  })

  const start = () => started(fakeCloudfront())
  const cfPurger = (url: string, more: Partial<typeof CLOUDFRONT> = {}) =>
    cloudfrontPurger({
      distributionId: CLOUDFRONT.distributionId,
      accessKeyId: CLOUDFRONT.accessKeyId,
      secretAccessKey: CLOUDFRONT.secretAccessKey,
      ...more,
      endpoint: url,
    })
  const batchOf = (r: RecordedRequest<CloudfrontBatch> | undefined) => r?.body

  test('tags go as #tag, XML-escaped; parameters and wildcards become a final *', async () => {
    const fake = await start()
    const purger = cfPurger(fake.url)
    expect([purger.maxTags, purger.maxPaths]).toEqual([3000, 3000])
    const batch = {
      tags: ['product-1', 'a&b<c>'],
      paths: ['/a/:id', '/a/:id/b', '/products/*', '/p-:id', '/about', '/caf\u00e9/*'],
    }
    expect(await purger.send(batch, signal())).toEqual({ ok: true, status: 201 })
    expect(fake.requests).toHaveLength(1)
    expect(fake.requests[0]?.raw.toString()).toContain('<Path>#a&amp;b&lt;c&gt;</Path>')
    expect(batchOf(fake.requests[0])).toEqual({
      callerReference: expect.stringMatching(/^cachet-/),
      quantity: 7,
      // /a/:id and /a/:id/b are both /a/*: once.
      paths: ['#product-1', '#a&b<c>', '/a/*', '/products/*', '/p-*', '/about', '/caf%C3%A9/*'],
    })
  })

  test('every call has its own CallerReference', async () => {
    const fake = await start()
    const purger = cfPurger(fake.url)
    expect(await purger.send(tagsOf('a'), signal())).toEqual({ ok: true, status: 201 })
    expect(await purger.send(tagsOf('a'), signal())).toEqual({ ok: true, status: 201 })
    const refs = fake.requests.map((r) => r.body?.callerReference)
    expect(new Set(refs).size).toBe(2)
  })

  test('temporary credentials sign x-amz-security-token', async () => {
    const sessionToken = 'FwoGZXIvYXdzEBYaDExampleSessionToken'
    const fake = await started(fakeCloudfront({ ...CLOUDFRONT, sessionToken }))
    expect(await cfPurger(fake.url, { sessionToken }).send(tagsOf('a'), signal())).toEqual({
      ok: true,
      status: 201,
    })
    // Without it, the fake refuses the call.
    const result = await cfPurger(fake.url).send(tagsOf('a'), signal())
    expectFailure(result, { status: 403, retry: false }, [sessionToken, CLOUDFRONT.secretAccessKey])
    expect(fake.requests[0]?.headers['x-amz-security-token']).toBe(sessionToken)
    expect(fake.requests[0]?.headers.authorization).toContain(
      'SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,',
    )
    expect(fake.requests).toHaveLength(2)
  })

  test('a wrong secret fails the signature check', async () => {
    const fake = await start()
    const secretAccessKey = 'wrongSecretKeyEXAMPLEKEYwrongSecretKeyXX'
    const result = await cfPurger(fake.url, { secretAccessKey }).send(tagsOf('a'), signal())
    expect(result).toMatchObject({ ok: false, status: 403, retry: false })
    expect(!result.ok && result.error).toMatch(/^HTTP 403: SignatureDoesNotMatch: /)
    expect(fake.requests).toHaveLength(1)
  })

  test('Throttling, TooManyInvalidationsInProgress and 429 are retried; another 400 is not', async () => {
    const fake = await start()
    const purger = cfPurger(fake.url)
    fake.failNext('rate-limit')
    expect(await purger.send(tagsOf('a'), signal())).toMatchObject({ status: 400, retry: true })
    fake.failNext('rate-limit', 1, {
      body: '<ErrorResponse><Error><Code>TooManyInvalidationsInProgress</Code><Message>Too many</Message></Error></ErrorResponse>',
    })
    expect(await purger.send(tagsOf('a'), signal())).toMatchObject({ status: 400, retry: true })
    fake.failNext('rate-limit', 1, { status: 429, headers: { 'retry-after': '2' } })
    expect(await purger.send(tagsOf('a'), signal())).toMatchObject({
      status: 429,
      retry: true,
      retryAfterMs: 2_000,
    })
    fake.failNext('bad-request')
    expect(await purger.send(tagsOf('a'), signal())).toMatchObject({
      status: 400,
      retry: false,
      error: 'HTTP 400: InvalidArgument: Your request contains invalid arguments',
    })
    expect(fake.requests).toHaveLength(4)
  })

  test('tags and paths count together: 3,000 of each is over what one batch may hold', async () => {
    const fake = await start()
    const batch = {
      tags: Array.from({ length: 3000 }, (_, i) => `t${i}`),
      paths: ['/products/*'],
    }
    const result = await cfPurger(fake.url).send(batch, signal())
    expect(result).toMatchObject({ ok: false, status: 400, retry: false })
    expect(!result.ok && result.error).toContain('BatchTooLarge')
    expect(fake.requests).toHaveLength(1)
  })
})

describe('bunny', () => {
  test('one tag a call: two are refused without a request', async () => {
    const fake = await started(fakeBunny())
    const purger = bunnyPurger({ ...BUNNY, endpoint: fake.url })
    expect([purger.maxTags, purger.maxPaths]).toEqual([1, 0])
    expect(await purger.send(tagsOf('a', 'b'), signal())).toMatchObject({ ok: false, retry: false })
    expect(fake.requests).toHaveLength(0)
  })

  test('a numeric pull zone id works as well', async () => {
    const fake = await started(fakeBunny())
    const purger = bunnyPurger({
      ...BUNNY,
      pullZoneId: Number(BUNNY.pullZoneId),
      endpoint: fake.url,
    })
    expect(await purger.send(tagsOf('a'), signal())).toEqual({ ok: true, status: 204 })
    expect(fake.requests.map((r) => r.url.pathname)).toEqual([
      `/pullzone/${BUNNY.pullZoneId}/purgeCache`,
    ])
  })
})

describe('vercel', () => {
  test('soft purges invalidate; without a team, no teamId', async () => {
    const fake = await started(fakeVercel({ ...VERCEL, teamId: undefined }))
    const purger = vercelPurger({
      token: VERCEL.token,
      projectIdOrName: VERCEL.projectIdOrName,
      soft: true,
      endpoint: fake.url,
    })
    expect([purger.soft, purger.maxTags, purger.maxPaths]).toEqual([true, 16, 0])
    expect(await purger.send(tagsOf('a'), signal())).toEqual({ ok: true, status: 200 })
    expect(fake.requests.map((r) => `${r.url.pathname}${r.url.search}`)).toEqual([
      `/v1/edge-cache/invalidate-by-tags?projectIdOrName=${VERCEL.projectIdOrName}`,
    ])
  })
})

describe('netlify', () => {
  test('100 tags a call (a conservative figure)', () => {
    const purger = netlifyPurger(NETLIFY)
    expect([purger.maxTags, purger.maxPaths, purger.soft]).toEqual([100, 0, false])
  })
})

// The fakes hold the CDNs' limits on their own: a batch the purgers would
// refuse to send is refused by the fake too.
describe('the fakes', () => {
  const post = (url: string, headers: Record<string, string>, body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const many = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`)

  test('refuse an oversized or misshapen batch with 400', async () => {
    const fastly = await started(fakeFastly())
    const cloudflare = await started(fakeCloudflare())
    const bunny = await started(fakeBunny())
    const vercel = await started(fakeVercel())
    const netlify = await started(fakeNetlify())
    const statuses = [
      await post(
        `${fastly.url}/service/${FASTLY.serviceId}/purge`,
        { 'fastly-key': FASTLY.token },
        { surrogate_keys: many(257) },
      ),
      await post(
        `${cloudflare.url}/client/v4/zones/${CLOUDFLARE.zoneId}/purge_cache`,
        { authorization: `Bearer ${CLOUDFLARE.token}` },
        { tags: many(101) },
      ),
      // One purge type a call.
      await post(
        `${cloudflare.url}/client/v4/zones/${CLOUDFLARE.zoneId}/purge_cache`,
        { authorization: `Bearer ${CLOUDFLARE.token}` },
        { tags: ['a'], prefixes: ['www.example.com/a/'] },
      ),
      await post(
        `${bunny.url}/pullzone/${BUNNY.pullZoneId}/purgeCache`,
        { accesskey: BUNNY.accessKey },
        { CacheTag: ['a', 'b'] },
      ),
      await post(
        `${vercel.url}/v1/edge-cache/invalidate-by-tags?projectIdOrName=${VERCEL.projectIdOrName}&teamId=${VERCEL.teamId}`,
        { authorization: `Bearer ${VERCEL.token}` },
        { tags: many(17) },
      ),
      await post(
        `${netlify.url}/api/v1/purge`,
        { authorization: `Bearer ${NETLIFY.token}` },
        { site_id: NETLIFY.siteId, cache_tags: many(101) },
      ),
    ].map((r) => r.status)
    expect(statuses).toEqual([400, 400, 400, 400, 400, 400])
    expect([fastly, cloudflare, bunny, vercel, netlify].map((f) => f.requests.length)).toEqual([
      1, 2, 1, 1, 1,
    ])
  })
})
