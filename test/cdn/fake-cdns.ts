import { createHash, createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

// Local stand-ins for the CDNs' purge APIs, on 127.0.0.1 and a free port,
// strict where the real ones are: each checks the method and path, the
// credentials (Akamai's EdgeGrid and CloudFront's SigV4 signatures are
// recomputed here from the request received, independently of the purgers'
// code), the content type, the body's shape and the batch limit (400 past
// it), and records every request. `failNext` makes the next answers a rate
// limit (with the CDN's own wait headers), a 500, a 400, or no answer at all.
//
// A refusal for bad credentials quotes what was sent, which no real CDN does
// politely but some do in effect (a proxy's error page, a debug echo): the
// purgers' errors must still never show a credential.

export type FailKind = 'rate-limit' | 'server-error' | 'bad-request' | 'hang'

export interface Reply {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

export interface Received<B> {
  readonly method: string
  /** Path and query as sent. */
  readonly url: URL
  readonly headers: IncomingHttpHeaders
  readonly raw: Buffer
  /** The body parsed (JSON; CloudFront's XML as `CloudfrontBatch`), `undefined` if unreadable. */
  readonly body: B | undefined
}

export interface RecordedRequest<B> extends Received<B> {
  /** What the fake answered (0: nothing, for `hang`). */
  status: number
}

export interface FakeCdn<B = unknown> {
  readonly url: string
  readonly requests: RecordedRequest<B>[]
  /**
   * Answers the next `n` requests that pass the route and credential checks
   * with `kind`; `reply` replaces parts of the CDN's usual answer (its
   * `headers` replace all of them).
   */
  failNext(kind: FailKind, n?: number, reply?: Partial<Reply>): void
  close(): Promise<void>
}

interface Api<B> {
  parse(raw: Buffer): B | undefined
  /** A wrong method or path: a reply; else undefined. */
  route(r: Received<B>): Reply | undefined
  auth(r: Received<B>): Reply | undefined
  /** The body's shape and the batch limit. */
  check(r: Received<B>): Reply | undefined
  ok(r: Received<B>): Reply
  failure: Record<Exclude<FailKind, 'hang'>, () => Reply>
}

async function startFake<B>(api: Api<B>): Promise<FakeCdn<B>> {
  const requests: RecordedRequest<B>[] = []
  const pending: { kind: FailKind; reply: Partial<Reply> | undefined }[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const received: Received<B> = {
        method: req.method ?? '',
        url: new URL(req.url ?? '/', 'http://fake.invalid'),
        headers: req.headers,
        raw,
        body: api.parse(raw),
      }
      const record: RecordedRequest<B> = { ...received, status: 0 }
      requests.push(record)
      let reply = api.route(received) ?? api.auth(received)
      if (reply === undefined) {
        const failure = pending.shift()
        // Never answered: the client's signal, or close(), ends it.
        if (failure?.kind === 'hang') return
        if (failure !== undefined) reply = { ...api.failure[failure.kind](), ...failure.reply }
      }
      reply ??= api.check(received) ?? api.ok(received)
      record.status = reply.status
      res.writeHead(reply.status, reply.headers ?? {})
      res.end(reply.body ?? '')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(kind, n = 1, reply) {
      for (let i = 0; i < n; i++) pending.push({ kind, reply })
    },
    close: () =>
      new Promise<void>((resolve) => {
        // fetch keeps connections alive: without this, close() waits for them.
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

// ---------------------------------------------------------------- helpers

const jsonReply = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
})

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch {
    return undefined
  }
}

const isStringList = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) &&
  v.length > 0 &&
  v.length <= max &&
  v.every((s) => typeof s === 'string' && s !== '')

const keysAre = (v: unknown, keys: string[]): v is Record<string, unknown> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.keys(v).sort().join() === [...keys].sort().join()

function routeOf<B>(method: string, path: string | RegExp) {
  return (r: Received<B>): Reply | undefined => {
    const ok = typeof path === 'string' ? r.url.pathname === path : path.test(r.url.pathname)
    if (!ok) return jsonReply(404, { message: `no route ${r.url.pathname}` })
    if (r.method !== method) return jsonReply(405, { message: `method ${r.method} not allowed` })
    return undefined
  }
}

const isJson = (r: Received<unknown>) =>
  (r.headers['content-type'] ?? '').split(';')[0]?.trim() === 'application/json'

/** Seconds since the epoch, `s` from now, rounded up. */
const epochIn = (s: number) => String(Math.ceil(Date.now() / 1000) + s)

// ---------------------------------------------------------------- Fastly

export const FASTLY = { serviceId: 'SU1Z0isxPaozGVKXdv0eY', token: 'fastly-token-6c1f0e9a2b' }

export function fakeFastly(o = FASTLY): Promise<FakeCdn> {
  return startFake<unknown>({
    parse: parseJson,
    route: routeOf('POST', `/service/${o.serviceId}/purge`),
    auth: (r) => {
      const key = r.headers['fastly-key']
      if (key === o.token) return undefined
      return jsonReply(403, {
        msg: 'Provided credentials are missing or invalid',
        detail: `key ${key}`,
      })
    },
    check: (r) => {
      const body = r.body as { surrogate_keys?: unknown }
      if (!isJson(r)) return jsonReply(415, { msg: 'Unsupported media type' })
      if (!keysAre(body, ['surrogate_keys']) || !isStringList(body.surrogate_keys, 256)) {
        return jsonReply(400, { msg: 'Bad request', detail: 'surrogate_keys: 1 to 256 keys' })
      }
      return undefined
    },
    ok: (r) => {
      const keys = (r.body as { surrogate_keys: string[] }).surrogate_keys
      return jsonReply(200, Object.fromEntries(keys.map((k, i) => [k, `108-${i}`])))
    },
    failure: {
      'rate-limit': () =>
        jsonReply(
          429,
          { msg: 'Too many requests' },
          { 'fastly-ratelimit-remaining': '0', 'fastly-ratelimit-reset': epochIn(30) },
        ),
      'server-error': () => jsonReply(500, { msg: 'Internal error' }),
      'bad-request': () => jsonReply(400, { msg: 'Bad request', detail: 'Invalid surrogate key' }),
    },
  })
}

// ---------------------------------------------------------------- Cloudflare

export const CLOUDFLARE = { zoneId: '023e105f4ecef8ad9ca31a8372d0c353', token: 'cf-token-Yq3nE8x1' }

const cfFail = (status: number, code: number, message: string, headers?: Record<string, string>) =>
  jsonReply(
    status,
    { success: false, errors: [{ code, message }], messages: [], result: null },
    headers,
  )

export function fakeCloudflare(o = CLOUDFLARE): Promise<FakeCdn> {
  return startFake<unknown>({
    parse: parseJson,
    route: routeOf('POST', new RegExp(`^/client/v4/zones/${o.zoneId}/(purge|invalidate)_cache$`)),
    auth: (r) => {
      if (r.headers.authorization === `Bearer ${o.token}`) return undefined
      return cfFail(403, 10000, `Authentication error: ${r.headers.authorization}`)
    },
    check: (r) => {
      if (!isJson(r)) return cfFail(415, 1001, 'Unsupported media type')
      const body = r.body
      // One purge type a call, at most 100 items.
      if (keysAre(body, ['tags']) && isStringList(body.tags, 100)) return undefined
      if (
        keysAre(body, ['prefixes']) &&
        isStringList(body.prefixes, 100) &&
        body.prefixes.every((p) => !p.includes('://') && !/[*?#]/.test(p))
      ) {
        return undefined
      }
      return cfFail(400, 1012, 'Request must contain one of "tags" or "prefixes", 1 to 100 items')
    },
    ok: () =>
      jsonReply(200, {
        success: true,
        errors: [],
        messages: [],
        result: { id: '9a7806061c88ada191ed06f989cc3dac' },
      }),
    failure: {
      'rate-limit': () =>
        cfFail(429, 971, 'Please wait and consider throttling your request speed', {
          'retry-after': '7',
        }),
      'server-error': () => cfFail(500, 10001, 'Internal error'),
      'bad-request': () => cfFail(400, 1012, 'Request must contain one of "tags" or "prefixes"'),
    },
  })
}

// ---------------------------------------------------------------- Akamai

export const AKAMAI = {
  host: 'akab-h05tnam3wl42son7nktnlnnx-kbob3i3v.purge.akamaiapis.net',
  clientToken: 'akab-c113ntt0k3n4qtari252bfxxbsl-yvsdj',
  clientSecret: 'C113nt53KR3TN6N90yVuAgICxIRwsObLi0E67/N8eRN=',
  accessToken: 'akab-acc35t0k3nodujqunph3w7hzp7-gtm6ij',
}
export const AKAMAI_MAX_BODY = 50_000

const problem = (status: number, title: string, detail: string, headers?: Record<string, string>) =>
  jsonReply(
    status,
    { type: 'https://problems.purge.akamaiapis.net/-/pep-authn/deny', title, status, detail },
    headers,
  )

/** `20240102T03:04:05+0000` as ms since the epoch. */
function edgeGridTime(ts: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2}):(\d{2}):(\d{2})\+0000$/.exec(ts)
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  return Date.UTC(y, mo - 1, d, h, mi, s)
}

/**
 * EdgeGrid, checked by recomputing the signature from the request as
 * received: signing key = base64(HMAC-SHA256(secret, timestamp)); signature
 * = base64(HMAC-SHA256(key, method \t scheme \t host \t path+query \t
 * (no headers) \t base64(SHA-256(body)) \t the header before `signature=`)).
 */
function checkEdgeGrid(
  o: typeof AKAMAI,
  r: Received<unknown>,
  nonces: Set<string>,
): Reply | undefined {
  const header = r.headers.authorization ?? ''
  const m =
    /^EG1-HMAC-SHA256 client_token=([^;]*);access_token=([^;]*);timestamp=([^;]*);nonce=([^;]*);signature=([A-Za-z0-9+/=]+)$/.exec(
      header,
    )
  if (!m) return problem(401, 'Not authorized', 'Invalid authorization header format')
  const [, clientToken, accessToken, timestamp, nonce, signature] = m as unknown as string[]
  if (clientToken !== o.clientToken || accessToken !== o.accessToken) {
    return problem(
      401,
      'Not authorized',
      `Invalid client_token ${clientToken} or access_token ${accessToken}`,
    )
  }
  const at = edgeGridTime(timestamp as string)
  if (at === undefined || Math.abs(Date.now() - at) > 5 * 60_000) {
    return problem(401, 'Not authorized', `Invalid timestamp ${timestamp}`)
  }
  if (!/^[0-9a-f-]{36}$/.test(nonce as string) || nonces.has(nonce as string)) {
    return problem(401, 'Not authorized', 'Invalid or reused nonce')
  }
  nonces.add(nonce as string)
  const unsigned = header.slice(0, header.indexOf('signature='))
  const key = createHmac('sha256', o.clientSecret)
    .update(timestamp as string)
    .digest('base64')
  const data = [
    r.method,
    'http',
    r.headers.host,
    r.url.pathname + r.url.search,
    '',
    r.method === 'POST' ? createHash('sha256').update(r.raw).digest('base64') : '',
    unsigned,
  ].join('\t')
  const expected = createHmac('sha256', key).update(data).digest('base64')
  if (expected !== signature) return problem(401, 'Not authorized', 'The signature does not match')
  return undefined
}

export function fakeAkamai(o = AKAMAI): Promise<FakeCdn> {
  const nonces = new Set<string>()
  return startFake<unknown>({
    parse: parseJson,
    route: routeOf('POST', /^\/ccu\/v3\/(invalidate|delete)\/tag\/(production|staging)$/),
    auth: (r) => checkEdgeGrid(o, r, nonces),
    check: (r) => {
      if (!isJson(r)) return problem(415, 'Unsupported Media Type', 'Expected application/json')
      const body = r.body as { objects?: unknown }
      if (r.raw.length > AKAMAI_MAX_BODY) {
        return problem(
          400,
          'Bad Request',
          `The body is ${r.raw.length} bytes, over ${AKAMAI_MAX_BODY}`,
        )
      }
      if (!keysAre(body, ['objects']) || !isStringList(body.objects, Number.POSITIVE_INFINITY)) {
        return problem(400, 'Bad Request', 'objects: a non-empty array of tags')
      }
      return undefined
    },
    ok: () =>
      jsonReply(201, {
        httpStatus: 201,
        detail: 'Request accepted',
        estimatedSeconds: 5,
        purgeId: 'edcp-Qy7K6Hhf3hCB9AbB3Qh6h4',
        supportId: '17PY1599849917839426-314015104',
      }),
    failure: {
      // Akamai gives no wait.
      'rate-limit': () => problem(429, 'Too Many Requests', 'Rate limit exceeded'),
      'server-error': () => problem(500, 'Internal Server Error', 'An internal error occurred'),
      'bad-request': () => problem(400, 'Bad Request', 'Invalid tag'),
    },
  })
}

// ---------------------------------------------------------------- CloudFront

export const CLOUDFRONT = {
  distributionId: 'EDFDVBD6EXAMPLE',
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: undefined as string | undefined,
}
export const CLOUDFRONT_MAX_PATHS = 3000

export interface CloudfrontBatch {
  readonly callerReference: string
  readonly quantity: number
  readonly paths: string[]
}

const xmlError = (
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
) => ({
  status,
  headers: { 'content-type': 'text/xml', ...headers },
  body: `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>b3e5a4b2-0c7d-4f2e-9d0e-1f2a3b4c5d6e</RequestId></ErrorResponse>`,
})

const unescapeXml = (s: string) =>
  s.replace(
    /&(amp|lt|gt|quot|apos);/g,
    (_, n: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[n] as string,
  )

function parseInvalidation(raw: Buffer): CloudfrontBatch | undefined {
  const m =
    /^(?:<\?xml[^>]*\?>)?<InvalidationBatch xmlns="http:\/\/cloudfront\.amazonaws\.com\/doc\/2020-05-31\/"><CallerReference>([^<]+)<\/CallerReference><Paths><Quantity>(\d+)<\/Quantity>(?:<Items>((?:<Path>[^<]*<\/Path>)*)<\/Items>)?<\/Paths><\/InvalidationBatch>$/.exec(
      raw.toString('utf8').trim(),
    )
  if (!m) return undefined
  const paths = [...(m[3] ?? '').matchAll(/<Path>([^<]*)<\/Path>/g)].map((p) =>
    unescapeXml(p[1] as string),
  )
  return { callerReference: m[1] as string, quantity: Number(m[2]), paths }
}

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** `20240102T030405Z` as ms since the epoch. */
function amzTime(ts: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(ts)
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  return Date.UTC(y, mo - 1, d, h, mi, s)
}

/** AWS Signature V4, recomputed from the request as received (no query: CloudFront's POST has none). */
function checkSigV4(o: typeof CLOUDFRONT, r: Received<unknown>): Reply | undefined {
  const header = r.headers.authorization ?? ''
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/,]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      header,
    )
  if (!m) return xmlError(403, 'IncompleteSignature', 'Malformed Authorization header')
  const [, keyId, day, region, service, signedList, signature] = m as unknown as string[]
  if (keyId !== o.accessKeyId) {
    return xmlError(
      403,
      'InvalidClientTokenId',
      `The security token included in the request is invalid: ${keyId}`,
    )
  }
  if (region !== 'us-east-1' || service !== 'cloudfront') {
    return xmlError(
      403,
      'SignatureDoesNotMatch',
      `Credential should be scoped to us-east-1/cloudfront`,
    )
  }
  const signedHeaders = (signedList as string).split(';')
  const required = ['host', 'x-amz-content-sha256', 'x-amz-date']
  if (o.sessionToken !== undefined) required.push('x-amz-security-token')
  if (!required.every((h) => signedHeaders.includes(h))) {
    return xmlError(
      403,
      'SignatureDoesNotMatch',
      `Signed headers must include ${required.join(';')}`,
    )
  }
  if (o.sessionToken !== undefined && r.headers['x-amz-security-token'] !== o.sessionToken) {
    return xmlError(
      403,
      'InvalidClientTokenId',
      'The security token included in the request is invalid',
    )
  }
  const amzDate = String(r.headers['x-amz-date'] ?? '')
  const at = amzTime(amzDate)
  if (
    at === undefined ||
    !amzDate.startsWith(day as string) ||
    Math.abs(Date.now() - at) > 15 * 60_000
  ) {
    return xmlError(403, 'SignatureDoesNotMatch', 'Signature expired or x-amz-date does not match')
  }
  const payloadHash = createHash('sha256').update(r.raw).digest('hex')
  if (r.headers['x-amz-content-sha256'] !== payloadHash) {
    return xmlError(
      400,
      'XAmzContentSHA256Mismatch',
      'The provided x-amz-content-sha256 does not match',
    )
  }
  const canonicalRequest = [
    r.method,
    r.url.pathname.split('/').map(rfc3986).join('/'),
    '',
    signedHeaders
      .map(
        (h) =>
          `${h}:${String(r.headers[h] ?? '')
            .trim()
            .replace(/\s+/g, ' ')}\n`,
      )
      .join(''),
    signedList,
    payloadHash,
  ].join('\n')
  const scope = `${day}/${region}/${service}/aws4_request`
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n')
  const mac = (key: string | Buffer, data: string) =>
    createHmac('sha256', key).update(data).digest()
  const key = mac(
    mac(mac(mac(`AWS4${o.secretAccessKey}`, day as string), region as string), service as string),
    'aws4_request',
  )
  if (mac(key, stringToSign).toString('hex') !== signature) {
    return xmlError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    )
  }
  return undefined
}

export function fakeCloudfront(o = CLOUDFRONT): Promise<FakeCdn<CloudfrontBatch>> {
  const references = new Set<string>()
  let id = 0
  return startFake<CloudfrontBatch>({
    parse: parseInvalidation,
    route: routeOf('POST', `/2020-05-31/distribution/${o.distributionId}/invalidation`),
    auth: (r) => checkSigV4(o, r),
    check: (r) => {
      const batch = r.body
      if (batch === undefined)
        return xmlError(400, 'MalformedInput', 'Could not parse the InvalidationBatch')
      if (batch.quantity !== batch.paths.length || batch.quantity === 0) {
        return xmlError(400, 'InvalidArgument', 'Quantity does not match the paths given')
      }
      if (batch.quantity > CLOUDFRONT_MAX_PATHS) {
        return xmlError(
          400,
          'BatchTooLarge',
          `At most ${CLOUDFRONT_MAX_PATHS} paths and tags a batch`,
        )
      }
      // A path starts with "/", a tag with "#"; "*" only at a path's end.
      const bad = batch.paths.find(
        (p) => !/^(#[^\s]+|\/[^*\s]*\*?)$/.test(p) || (p.startsWith('/') && /[^\x21-\x7e]/.test(p)),
      )
      if (bad !== undefined) return xmlError(400, 'InvalidArgument', `Invalid path ${bad}`)
      if (new Set(batch.paths).size !== batch.paths.length) {
        return xmlError(400, 'InvalidArgument', 'Duplicate paths')
      }
      if (references.has(batch.callerReference)) {
        return xmlError(409, 'InvalidationBatchAlreadyExists', 'CallerReference already used')
      }
      references.add(batch.callerReference)
      return undefined
    },
    ok: (r) => {
      const invalidation = `I${String(++id).padStart(13, '0')}`
      return {
        status: 201,
        headers: {
          'content-type': 'text/xml',
          location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${o.distributionId}/invalidation/${invalidation}`,
        },
        body: `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>${invalidation}</Id><Status>InProgress</Status><CreateTime>${new Date().toISOString()}</CreateTime><InvalidationBatch><CallerReference>${r.body?.callerReference}</CallerReference></InvalidationBatch></Invalidation>`,
      }
    },
    failure: {
      // CloudFront throttles with a 400 and a code, not a 429.
      'rate-limit': () => xmlError(400, 'Throttling', 'Rate exceeded'),
      'server-error': () => xmlError(500, 'InternalError', 'We encountered an internal error'),
      'bad-request': () =>
        xmlError(400, 'InvalidArgument', 'Your request contains invalid arguments'),
    },
  })
}

// ---------------------------------------------------------------- bunny.net

export const BUNNY = { pullZoneId: '1234567', accessKey: 'bunny-key-0b1c2d3e-4f5a' }

export function fakeBunny(o = BUNNY): Promise<FakeCdn> {
  const fail = (status: number, message: string, headers?: Record<string, string>) =>
    jsonReply(status, { ErrorKey: 'pullzone.purge', Field: 'CacheTag', Message: message }, headers)
  return startFake<unknown>({
    parse: parseJson,
    route: routeOf('POST', `/pullzone/${o.pullZoneId}/purgeCache`),
    auth: (r) =>
      r.headers.accesskey === o.accessKey
        ? undefined
        : fail(401, `Authorization has been denied for AccessKey ${r.headers.accesskey}`),
    check: (r) => {
      const body = r.body as { CacheTag?: unknown }
      if (!isJson(r)) return fail(415, 'Unsupported media type')
      // One tag a call, as a string.
      if (
        !keysAre(body, ['CacheTag']) ||
        typeof body.CacheTag !== 'string' ||
        body.CacheTag === ''
      ) {
        return fail(400, 'CacheTag: one tag, as a string')
      }
      return undefined
    },
    ok: () => ({ status: 204 }),
    failure: {
      'rate-limit': () => fail(429, 'Too many requests', { 'retry-after': '3' }),
      'server-error': () => fail(500, 'Internal server error'),
      'bad-request': () => fail(400, 'Invalid cache tag'),
    },
  })
}

// ---------------------------------------------------------------- Vercel

export const VERCEL = {
  token: 'vercel-token-9JkLmN0pQ',
  projectIdOrName: 'prj_shop',
  teamId: 'team_abc123' as string | undefined,
}

export function fakeVercel(o = VERCEL): Promise<FakeCdn> {
  const fail = (status: number, code: string, message: string, headers?: Record<string, string>) =>
    jsonReply(status, { error: { code, message } }, headers)
  return startFake<unknown>({
    parse: parseJson,
    route: (r) => {
      const routed = routeOf<unknown>(
        'POST',
        /^\/v1\/edge-cache\/(invalidate-by-tags|dangerously-delete-by-tags)$/,
      )(r)
      if (routed !== undefined) return routed
      const q = r.url.searchParams
      if (
        q.get('projectIdOrName') !== o.projectIdOrName ||
        q.get('teamId') !== (o.teamId ?? null)
      ) {
        return fail(404, 'not_found', 'Project not found')
      }
      return undefined
    },
    auth: (r) =>
      r.headers.authorization === `Bearer ${o.token}`
        ? undefined
        : fail(403, 'forbidden', `Not authorized: ${r.headers.authorization}`),
    check: (r) => {
      const body = r.body as { tags?: unknown }
      if (!isJson(r)) return fail(415, 'bad_request', 'Unsupported media type')
      if (!keysAre(body, ['tags']) || !isStringList(body.tags, 16)) {
        return fail(400, 'bad_request', 'tags: 1 to 16 tags')
      }
      return undefined
    },
    ok: () => jsonReply(200, {}),
    failure: {
      'rate-limit': () =>
        fail(429, 'rate_limited', 'Rate limit exceeded', {
          'x-ratelimit-limit': '100',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': epochIn(20),
        }),
      'server-error': () => fail(500, 'internal_server_error', 'An unexpected error occurred'),
      'bad-request': () => fail(400, 'bad_request', 'Invalid tag'),
    },
  })
}

// ---------------------------------------------------------------- Netlify

export const NETLIFY = {
  token: 'netlify-token-5f4e3d2c1b',
  siteId: '3970e0fe-8564-4903-9a55-c5f8de49fb8b',
}

export function fakeNetlify(o = NETLIFY): Promise<FakeCdn> {
  const fail = (status: number, message: string, headers?: Record<string, string>) =>
    jsonReply(status, { code: status, message }, headers)
  return startFake<unknown>({
    parse: parseJson,
    route: routeOf('POST', '/api/v1/purge'),
    auth: (r) =>
      r.headers.authorization === `Bearer ${o.token}`
        ? undefined
        : fail(401, `Access Denied: ${r.headers.authorization}`),
    check: (r) => {
      const body = r.body as { site_id?: unknown; cache_tags?: unknown }
      if (!isJson(r)) return fail(415, 'Unsupported media type')
      if (!keysAre(body, ['site_id', 'cache_tags']) || !isStringList(body.cache_tags, 100)) {
        return fail(400, 'site_id and cache_tags (1 to 100) are required')
      }
      if (body.site_id !== o.siteId) return fail(404, 'Not Found')
      return undefined
    },
    ok: () => ({ status: 202 }),
    failure: {
      'rate-limit': () =>
        fail(429, 'Rate limit exceeded', {
          'x-ratelimit-limit': '500',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': epochIn(45),
        }),
      'server-error': () => fail(500, 'Internal Server Error'),
      'bad-request': () => fail(400, 'Invalid cache tag'),
    },
  })
}
