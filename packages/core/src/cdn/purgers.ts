import { randomUUID } from 'node:crypto'
import { describeValue } from '../errors'
import {
  type Answer,
  type Dialect,
  hmac,
  inTurn,
  isObject,
  json,
  literalStart,
  PurgerOptions,
  post,
  purger,
  resetAtMs,
  retryAfterMs,
  sha256,
  xmlCode,
  xmlEscape,
} from './purge-http'
import type { Purger } from './purger'

/**
 * One factory per CDN purge API, each returning a `Purger` for the purge
 * queue. Options are checked when the factory is called (a bad one throws a
 * `CachetConfigError`, `CACHET_INVALID_OPTION`, naming it; a credential is
 * never echoed). `soft` defaults to false everywhere: a purge removes.
 *
 * Every `send` is one POST (two at most where noted) with the given signal;
 * it never rejects. 429 and 5xx are retried (with the CDN's own wait where it
 * gives one), other 4xx are not, and no error text carries a credential, even
 * one the CDN echoed back. `endpoint` replaces the API's base URL (a proxy, a
 * test server).
 */

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' }

const enc = encodeURIComponent

// ---------------------------------------------------------------- Fastly

export interface FastlyPurgerOptions {
  serviceId: string
  /** An API token with purge_select scope, sent as `Fastly-Key`. */
  token: string
  /** Mark the content stale (`Fastly-Soft-Purge: 1`) rather than remove it. */
  soft?: boolean
  /** Default `https://api.fastly.com`. */
  endpoint?: string
}

/**
 * Fastly's purge by surrogate keys: `POST /service/{id}/purge`, at most 256
 * keys a call. Fastly purges URLs one at a time, not by pattern: no paths.
 */
export function fastlyPurger(options: FastlyPurgerOptions): Purger {
  const o = new PurgerOptions('fastlyPurger', options, ['serviceId', 'token', 'soft', 'endpoint'])
  const serviceId = o.id('serviceId')
  const token = o.secret('token')
  const soft = o.flag('soft')
  const url = `${o.endpoint('https://api.fastly.com')}/service/${enc(serviceId)}/purge`
  const dialect: Dialect = {
    secrets: [token],
    // The answer maps each key to its purge id.
    accepted: (a) => a.status === 200 && isObject(json(a.text)),
    // Fastly says when its window resets; Retry-After where a proxy gave one.
    retryAfterMs: (a, now) =>
      resetAtMs(a.headers.get('fastly-ratelimit-reset'), now) ??
      retryAfterMs(a.headers.get('retry-after'), now),
  }
  const headers = {
    ...JSON_HEADERS,
    'fastly-key': token,
    ...(soft ? { 'fastly-soft-purge': '1' } : {}),
  }
  return purger({ name: 'fastly', maxTags: 256, maxPaths: 0, soft }, [token], (batch, signal) =>
    post(dialect, { url, headers, body: JSON.stringify({ surrogate_keys: batch.tags }) }, signal),
  )
}

// ---------------------------------------------------------------- Cloudflare

export interface CloudflarePurgerOptions {
  zoneId: string
  /** An API token with the Cache Purge permission, sent as a Bearer token. */
  token: string
  /** `invalidate_cache` (revalidate) rather than `purge_cache` (remove). */
  soft?: boolean
  /**
   * The zone's host name (`www.example.com`, no scheme): with it, path
   * patterns are purged as prefixes (`host/products/`); without it, tags only.
   */
  host?: string
  /** Default `https://api.cloudflare.com`. */
  endpoint?: string
}

/**
 * Cloudflare's purge by tags and by prefix: at most 100 of either a call.
 * A call purges one way only, so a batch holding tags and paths is two
 * calls, the tags' first; if the second fails the queue retries both, which
 * only purges the tags again.
 */
export function cloudflarePurger(options: CloudflarePurgerOptions): Purger {
  const o = new PurgerOptions('cloudflarePurger', options, [
    'zoneId',
    'token',
    'soft',
    'host',
    'endpoint',
  ])
  const zoneId = o.id('zoneId')
  const token = o.secret('token')
  const soft = o.flag('soft')
  const host = o.optionalHost('host', 'www.example.com')
  const url = `${o.endpoint('https://api.cloudflare.com')}/client/v4/zones/${enc(zoneId)}/${soft ? 'invalidate_cache' : 'purge_cache'}`
  const dialect: Dialect = {
    secrets: [token],
    accepted: (a) => {
      const body = json(a.text)
      return a.status === 200 && isObject(body) && body.success === true
    },
  }
  const headers = { ...JSON_HEADERS, authorization: `Bearer ${token}` }
  const call = (body: object, signal: AbortSignal) =>
    post(dialect, { url, headers, body: JSON.stringify(body) }, signal)
  return purger(
    { name: 'cloudflare', maxTags: 100, maxPaths: host === undefined ? 0 : 100, soft },
    [token],
    (batch, signal) => {
      const calls = []
      if (batch.tags.length > 0) calls.push(() => call({ tags: batch.tags }, signal))
      if (batch.paths.length > 0 && host !== undefined) {
        const prefixes = [...new Set(batch.paths.map((p) => cloudflarePrefix(host, p)))]
        calls.push(() => call({ prefixes }, signal))
      }
      return inTurn(calls)
    },
  )
}

/**
 * A path pattern as a Cloudflare prefix (`host/products/` for
 * `/products/*`). Cloudflare matches a prefix on whole path segments
 * (`host/a` covers `/a` and `/a/...`, not `/ab`), and a prefix has no
 * wildcard: a pattern is purged from the literal text before its first
 * parameter, wildcard or group, cut back to the start of that segment when
 * it stops inside one. A parameter or wildcard in the middle (`/a/:id/b`)
 * therefore purges more than the pattern matches (all of `/a/`), and `/:id`
 * the whole host; a purge taking too much is safe, one taking too little is
 * not. Cloudflare compares paths as sent, while cachet matches patterns
 * case-insensitively: a differently cased URL is not purged.
 */
export function cloudflarePrefix(host: string, pattern: string): string {
  const { text, cut, at } = literalStart(pattern)
  if (!cut || text.endsWith('/') || at.startsWith('{/')) return host + text
  return host + text.slice(0, text.lastIndexOf('/') + 1)
}

// ---------------------------------------------------------------- Akamai

export interface AkamaiPurgerOptions {
  /** The API client's host, `akab-….purge.akamaiapis.net` (no scheme). */
  host: string
  clientToken: string
  clientSecret: string
  accessToken: string
  /** Default `'production'`. */
  network?: 'production' | 'staging'
  /** `invalidate` (revalidate) rather than `delete` (remove). */
  soft?: boolean
  /** Default `https://{host}`. */
  endpoint?: string
}

/** Akamai's limit on a purge request's body. */
export const AKAMAI_MAX_BODY_BYTES = 50_000
/** `{"objects":[]}` */
const AKAMAI_EMPTY_BODY = 14
/** Akamai gives no wait on a 429. */
const AKAMAI_RATE_LIMIT_WAIT_MS = 5_000

/**
 * Akamai Fast Purge (CCU v3) by cache tag, signed with EdgeGrid. `maxTags` is
 * 500, but Akamai's real limit is its body's 50,000 bytes, which the queue
 * (cutting by count) does not see: `send` cuts a batch by bytes itself, one
 * call per part, in turn, so 500 long tags may be two calls. No paths:
 * Akamai purges URLs and CP codes, not patterns.
 */
export function akamaiPurger(options: AkamaiPurgerOptions): Purger {
  const o = new PurgerOptions('akamaiPurger', options, [
    'host',
    'clientToken',
    'clientSecret',
    'accessToken',
    'network',
    'soft',
    'endpoint',
  ])
  const host = o.host('host', 'akab-xxxx.purge.akamaiapis.net')
  const credentials = {
    clientToken: o.secret('clientToken'),
    clientSecret: o.secret('clientSecret'),
    accessToken: o.secret('accessToken'),
  }
  const network = o.oneOf('network', ['production', 'staging'] as const, 'production')
  const soft = o.flag('soft')
  const url = new URL(
    `${o.endpoint(`https://${host}`)}/ccu/v3/${soft ? 'invalidate' : 'delete'}/tag/${network}`,
  )
  const secrets = Object.values(credentials)
  const dialect: Dialect = {
    secrets,
    accepted: (a) => a.status === 201,
    retryAfterMs: (a, now) =>
      retryAfterMs(a.headers.get('retry-after'), now) ?? AKAMAI_RATE_LIMIT_WAIT_MS,
  }
  return purger({ name: 'akamai', maxTags: 500, maxPaths: 0, soft }, secrets, (batch, signal) =>
    inTurn(
      byBytes(batch.tags, AKAMAI_MAX_BODY_BYTES).map((objects) => () => {
        const body = JSON.stringify({ objects })
        const authorization = edgeGridAuthorization(credentials, 'POST', url, body)
        return post(
          dialect,
          { url: url.href, headers: { ...JSON_HEADERS, authorization }, body },
          signal,
        )
      }),
    ),
  )
}

/** `tags` in runs whose `{"objects":[...]}` body stays under `maxBytes`. */
function byBytes(tags: readonly string[], maxBytes: number): string[][] {
  const runs: string[][] = []
  let run: string[] = []
  let size = AKAMAI_EMPTY_BODY
  for (const tag of tags) {
    const bytes = Buffer.byteLength(JSON.stringify(tag))
    if (run.length > 0 && size + 1 + bytes >= maxBytes) {
      runs.push(run)
      run = []
      size = AKAMAI_EMPTY_BODY
    }
    size += bytes + (run.length > 0 ? 1 : 0)
    run.push(tag)
  }
  if (run.length > 0) runs.push(run)
  return runs
}

/** `yyyyMMddTHH:mm:ss+0000`, in UTC. */
function edgeGridTimestamp(now: Date): string {
  const iso = now.toISOString() // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 19)}+0000`
}

/**
 * EdgeGrid's `EG1-HMAC-SHA256` header. The signing key is the base64 HMAC of
 * the timestamp under the client secret; the signature the base64 HMAC,
 * under that key (its base64 text), of the tab-joined method, scheme, host,
 * path and query, canonical headers (none signed: empty), the body's base64
 * SHA-256 and the header so far.
 */
export function edgeGridAuthorization(
  c: { clientToken: string; clientSecret: string; accessToken: string },
  method: string,
  url: URL,
  body: string,
  now = new Date(),
  nonce: string = randomUUID(),
): string {
  const timestamp = edgeGridTimestamp(now)
  const unsigned = `EG1-HMAC-SHA256 client_token=${c.clientToken};access_token=${c.accessToken};timestamp=${timestamp};nonce=${nonce};`
  const signingKey = hmac(c.clientSecret, timestamp).toString('base64')
  const data = [
    method,
    url.protocol.slice(0, -1),
    url.host,
    url.pathname + url.search,
    '',
    method === 'POST' && body !== '' ? sha256(body).toString('base64') : '',
    unsigned,
  ].join('\t')
  return `${unsigned}signature=${hmac(signingKey, data).toString('base64')}`
}

// ---------------------------------------------------------------- CloudFront

export interface CloudfrontPurgerOptions {
  distributionId: string
  accessKeyId: string
  secretAccessKey: string
  /** Temporary credentials' token (`x-amz-security-token`). */
  sessionToken?: string
  /** Default `https://cloudfront.amazonaws.com`. */
  endpoint?: string
}

/** CloudFront's error codes that mean "later": throttled, or too many invalidations in progress. */
const CLOUDFRONT_LATER = new Set(['Throttling', 'TooManyInvalidationsInProgress'])

/**
 * A CloudFront invalidation (API 2020-05-31), signed with AWS Signature V4.
 * Tags go as `#tag`, path patterns as invalidation paths (see
 * `cloudfrontPath`), mixed in one call. `maxTags` and `maxPaths` are 3000
 * each, but CloudFront counts tags and paths together: a call of more than
 * 3,000 in all is refused (`BatchTooLarge`, not retried), and one taking the
 * distribution's in-progress total past 3,000 (or past 15 paths ending in
 * `*`) is refused with `TooManyInvalidationsInProgress`, retried later. A
 * retry is a new invalidation, with a new CallerReference.
 */
export function cloudfrontPurger(options: CloudfrontPurgerOptions): Purger {
  const o = new PurgerOptions('cloudfrontPurger', options, [
    'distributionId',
    'accessKeyId',
    'secretAccessKey',
    'sessionToken',
    'endpoint',
  ])
  const distributionId = o.id('distributionId')
  const credentials = {
    accessKeyId: o.secret('accessKeyId'),
    secretAccessKey: o.secret('secretAccessKey'),
    sessionToken: o.optionalSecret('sessionToken'),
  }
  const url = new URL(
    `${o.endpoint('https://cloudfront.amazonaws.com')}/2020-05-31/distribution/${enc(distributionId)}/invalidation`,
  )
  const secrets = Object.values(credentials)
  const dialect: Dialect = {
    secrets,
    accepted: (a) => a.status === 201,
    // CloudFront throttles with a 400 (or 429, 503) and an XML code.
    retryable: (a: Answer) => CLOUDFRONT_LATER.has(xmlCode(a.text) ?? ''),
  }
  return purger(
    { name: 'cloudfront', maxTags: 3000, maxPaths: 3000, soft: false },
    secrets,
    (batch, signal) => {
      const items = [
        ...new Set([...batch.tags.map((t) => `#${t}`), ...batch.paths.map(cloudfrontPath)]),
      ]
      const body =
        '<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">' +
        // Unique per call: CloudFront refuses a reused reference with another batch.
        `<CallerReference>cachet-${Date.now()}-${randomUUID()}</CallerReference>` +
        `<Paths><Quantity>${items.length}</Quantity><Items>` +
        items.map((p) => `<Path>${xmlEscape(p)}</Path>`).join('') +
        '</Items></Paths></InvalidationBatch>'
      const headers = {
        'content-type': 'application/xml',
        ...signV4(credentials, 'POST', url, body, 'us-east-1', 'cloudfront'),
      }
      return post(dialect, { url: url.href, headers, body }, signal)
    },
  )
}

/**
 * A path pattern as a CloudFront invalidation path: literal up to its first
 * parameter, wildcard or group, then `*` (`/a/:id` and `/a/:id/b` are
 * `/a/*`, `/p-:id` is `/p-*`), since CloudFront takes `*` at the end only.
 * Characters a URL may not hold are percent-encoded. A literal pattern is
 * purged as is: cachet also matches it with a trailing slash or another
 * case, which CloudFront holds as other objects.
 */
export function cloudfrontPath(pattern: string): string {
  const { text, cut } = literalStart(pattern)
  return (cut ? `${text}*` : text).replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/gu, (c) => enc(c))
}

/** RFC 3986 encoding, as SigV4 wants it: `encodeURIComponent` plus `!'()*`. */
function uriEncode(text: string): string {
  return enc(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * AWS Signature V4 headers for a request without a query: `x-amz-date`,
 * `x-amz-content-sha256`, `x-amz-security-token` (with a session token) and
 * `authorization`, signing those and `host` (which fetch sends from the URL).
 */
export function signV4(
  c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined },
  method: string,
  url: URL,
  body: string,
  region: string,
  service: string,
  now = new Date(),
): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '') // 20240102T030405Z
  const day = amzDate.slice(0, 8)
  const payloadHash = sha256(body).toString('hex')
  const signed: [string, string][] = [
    ['host', url.host],
    ['x-amz-content-sha256', payloadHash],
    ['x-amz-date', amzDate],
  ]
  if (c.sessionToken !== undefined) signed.push(['x-amz-security-token', c.sessionToken])
  const signedHeaders = signed.map(([name]) => name).join(';')
  const canonicalRequest = [
    method,
    // Every service but S3 wants each segment encoded once more.
    url.pathname.split('/').map(uriEncode).join('/'),
    '',
    signed.map(([name, value]) => `${name}:${value.trim()}\n`).join(''),
    signedHeaders,
    payloadHash,
  ].join('\n')
  const scope = `${day}/${region}/${service}/aws4_request`
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    sha256(canonicalRequest).toString('hex'),
  ].join('\n')
  let key = hmac(`AWS4${c.secretAccessKey}`, day)
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part)
  const signature = hmac(key, stringToSign).toString('hex')
  const headers: Record<string, string> = Object.fromEntries(signed.slice(1))
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`
  return headers
}

// ---------------------------------------------------------------- Bunny

export interface BunnyPurgerOptions {
  /** The pull zone's numeric id. */
  pullZoneId: string | number
  /** The account's API key, sent as `AccessKey`. */
  accessKey: string
  /** Default `https://api.bunny.net`. */
  endpoint?: string
}

/** bunny.net's purge by cache tag: one tag a call. */
export function bunnyPurger(options: BunnyPurgerOptions): Purger {
  const o = new PurgerOptions('bunnyPurger', options, ['pullZoneId', 'accessKey', 'endpoint'])
  const raw: unknown = options.pullZoneId
  const pullZoneId = typeof raw === 'number' ? String(raw) : raw
  if (typeof pullZoneId !== 'string' || !/^[1-9]\d*$/.test(pullZoneId)) {
    o.fail(
      'pullZoneId',
      `expected the pull zone's numeric id (a whole number, or its digits as a string), got ${describeValue(raw)}`,
    )
  }
  const accessKey = o.secret('accessKey')
  const url = `${o.endpoint('https://api.bunny.net')}/pullzone/${pullZoneId}/purgeCache`
  const dialect: Dialect = {
    secrets: [accessKey],
    accepted: (a) => a.status === 200 || a.status === 204,
  }
  const headers = { ...JSON_HEADERS, accesskey: accessKey }
  return purger(
    { name: 'bunny', maxTags: 1, maxPaths: 0, soft: false },
    [accessKey],
    (batch, signal) =>
      post(dialect, { url, headers, body: JSON.stringify({ CacheTag: batch.tags[0] }) }, signal),
  )
}

// ---------------------------------------------------------------- Vercel

export interface VercelPurgerOptions {
  /** A Vercel access token, sent as a Bearer token. */
  token: string
  projectIdOrName: string
  /** The team owning the project, when it is not the token's personal account. */
  teamId?: string
  /** `invalidate-by-tags` (revalidate) rather than `dangerously-delete-by-tags` (remove). */
  soft?: boolean
  /** Default `https://api.vercel.com`. */
  endpoint?: string
}

/** Vercel's edge cache purge by tags: at most 16 a call. */
export function vercelPurger(options: VercelPurgerOptions): Purger {
  const o = new PurgerOptions('vercelPurger', options, [
    'token',
    'projectIdOrName',
    'teamId',
    'soft',
    'endpoint',
  ])
  const token = o.secret('token')
  const query = new URLSearchParams({ projectIdOrName: o.id('projectIdOrName') })
  const teamId = o.optionalId('teamId')
  if (teamId !== undefined) query.set('teamId', teamId)
  const soft = o.flag('soft')
  const url = `${o.endpoint('https://api.vercel.com')}/v1/edge-cache/${soft ? 'invalidate-by-tags' : 'dangerously-delete-by-tags'}?${query}`
  const dialect = rateLimitedDialect([token])
  const headers = { ...JSON_HEADERS, authorization: `Bearer ${token}` }
  return purger({ name: 'vercel', maxTags: 16, maxPaths: 0, soft }, [token], (batch, signal) =>
    post(dialect, { url, headers, body: JSON.stringify({ tags: batch.tags }) }, signal),
  )
}

// ---------------------------------------------------------------- Netlify

export interface NetlifyPurgerOptions {
  /** A Netlify personal access token, sent as a Bearer token. */
  token: string
  siteId: string
  /** Default `https://api.netlify.com`. */
  endpoint?: string
}

/**
 * Netlify's purge by cache tags. Netlify publishes no limit on tags a call:
 * 100 is a conservative figure, not a documented one.
 */
export function netlifyPurger(options: NetlifyPurgerOptions): Purger {
  const o = new PurgerOptions('netlifyPurger', options, ['token', 'siteId', 'endpoint'])
  const token = o.secret('token')
  const siteId = o.id('siteId')
  const url = `${o.endpoint('https://api.netlify.com')}/api/v1/purge`
  const dialect = rateLimitedDialect([token])
  const headers = { ...JSON_HEADERS, authorization: `Bearer ${token}` }
  return purger(
    { name: 'netlify', maxTags: 100, maxPaths: 0, soft: false },
    [token],
    (batch, signal) =>
      post(
        dialect,
        { url, headers, body: JSON.stringify({ site_id: siteId, cache_tags: batch.tags }) },
        signal,
      ),
  )
}

/** Any 2xx; a 429's wait from `Retry-After`, else `X-RateLimit-Reset` (UTC epoch seconds, Vercel and Netlify). */
function rateLimitedDialect(secrets: string[]): Dialect {
  return {
    secrets,
    retryAfterMs: (a, now) =>
      retryAfterMs(a.headers.get('retry-after'), now) ??
      resetAtMs(a.headers.get('x-ratelimit-reset'), now),
  }
}
