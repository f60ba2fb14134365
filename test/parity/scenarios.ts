import {
  blobSha256,
  type InvalidateTarget,
  jsonBody,
  type Reply,
  type RequestSpec,
  type ShopConfig,
  streamSha256,
} from '../support/shops'

/**
 * The parity table: every scenario runs, unchanged, against both example shops
 * (CONTRACT.md), each on a fresh shop behind a real loopback server. Every
 * scenario ends by asserting how many times the origin handlers ran.
 */

export type XCache = 'HIT' | 'MISS' | 'BYPASS' | 'STALE'

/** Earlier replies of the same scenario, by step label. */
export type Labels = ReadonlyMap<string, Reply>

export type HeaderExpect =
  | string
  | RegExp
  /** the header must be absent */
  | null
  /** the header must be present, any value */
  | true
  /** the same value as in the labelled reply */
  | { sameAs: string }
  /** the byte length of the labelled reply's body */
  | { lengthOf: string }

export interface Expectation {
  status: number | readonly number[]
  /** `null`: no `X-Cache` header at all; a list: any one of these. */
  xCache: XCache | null | readonly XCache[]
  /** Partial match (`toMatchObject`) of the JSON body; also asserts a JSON content type. */
  json?: object
  sha256?: string
  bodyLength?: number
  bodyEmpty?: true
  /** Body bytes and `Content-Type` identical to the labelled reply's. */
  sameAs?: string
  headers?: Record<string, HeaderExpect>
  /** Anything the fields above cannot say. */
  check?: (reply: Reply, labels: Labels) => void
}

export interface RequestStep extends RequestSpec {
  label?: string
  /** Sends `If-None-Match` with this value, or with the `ETag` of a labelled reply. */
  ifNoneMatch?: string | { etagOf: string }
  /**
   * Sent again (every few ms, for a bounded time) while the reply's `X-Cache`
   * is one of these: for a background refresh that has to land first.
   * `expect` applies to the last reply only.
   */
  retryWhile?: readonly XCache[]
  expect: Expectation
}

export interface ConcurrentStep {
  concurrent: number
  request: RequestSpec
  expect: {
    status: number
    /** Exact count of each `X-Cache` value over all the replies. */
    xCacheCounts?: Partial<Record<XCache, number>>
    /** Instead of exact counts: every reply's `X-Cache` is one of these (timing decides which). */
    xCacheAmong?: readonly XCache[]
    json?: object
  }
}

export interface InvalidateStep {
  invalidate: InvalidateTarget
}

export interface InvalidateRejectsStep {
  /** Deliberately untyped: these are the calls the type would forbid. */
  invalidateRejects: unknown
  /** The error message must match (it names the bad field). */
  message: RegExp
}

/**
 * Moves the clock the cache reads (`Date.now`) forward by this many ms, for
 * the rest of the scenario: past a ttl or a stale window without waiting for
 * it (see `run-scenario.ts` for why that is sound).
 */
export interface ClockStep {
  clock: number
}

/** Background refreshes (stale-while-revalidate) started, and ended each way, as the cache counts them. */
export type RefreshCounts = Partial<Record<'started' | 'stored' | 'notStored' | 'skipped', number>>

/** Stale answers the cache counts: inside stale-while-revalidate, or standing in for a failure. */
export type StaleCounts = Partial<Record<'revalidate' | 'error' | 'timeout', number>>

/**
 * Waits, in real time and for a bounded time, for background work that no
 * request of the scenario waits on (a stale-while-revalidate refresh), until
 * each count reaches its value; then each count must be exactly that.
 */
export interface WaitStep {
  waitFor: {
    /** Origin handler runs by route, as `GET /__origin/calls` counts them. */
    originCalls?: Record<string, number>
    /** Background refreshes, from the shop's `cache.engine.stats()`. */
    refreshes?: RefreshCounts
    /** Stale copies served to clients, by window, from the same stats. */
    staleAnswers?: StaleCounts
  }
}

export type Step =
  | RequestStep
  | ConcurrentStep
  | InvalidateStep
  | InvalidateRejectsStep
  | ClockStep
  | WaitStep

export type StoreName = 'memory' | 'redis'

export interface Scenario {
  name: string
  /** The CONTRACT.md row the scenario exercises. */
  row: string
  config?: Partial<ShopConfig>
  /** The stores the scenario runs on; default both. */
  stores?: readonly StoreName[]
  steps: readonly Step[]
  /** `byRoute` is exact: a route not listed must not have run at all. */
  originCalls: { total?: number; byRoute?: Record<string, number> }
}

const PRODUCT = 'GET /products/:id'
const LISTING = 'GET /products'
const CART = 'GET /me/cart'
const ASSET = 'GET /assets/:name'
const STREAM = 'GET /stream/:chunks'
const STATUS = 'GET /status/:code'
const SLOW = 'GET /slow/:id'
const PRODUCT_WRITE = 'PUT /products/:id'

const JSON_TYPE = /^application\/json/
const u1 = { authorization: 'Bearer u1' }
const u2 = { authorization: 'Bearer u2' }

function times<T>(n: number, item: T): T[] {
  return Array.from({ length: n }, () => item)
}

// The /slow/:id rule: ttl 5 s, stale-while-revalidate 30 s, stale-if-error 300 s.
const SLOW_TTL_MS = 5_000
const INSIDE_SWR_MS = SLOW_TTL_MS + 1_000
const INSIDE_SIE_MS = SLOW_TTL_MS + 35_000
const PAST_SIE_MS = SLOW_TTL_MS + 301_000
const SWR_STATUS = /^cachet; hit; ttl=-\d+; detail=stale-while-revalidate$/
const SIE_STATUS_503 = /^cachet; fwd=stale; fwd-status=503; ttl=-\d+; detail=stale-if-error$/
/** A copy stored (or refreshed) within the last second or so, as a hit shows it. */
const FRESH_HIT = { age: /^[01]$/, 'cache-status': /^cachet; hit; ttl=[45]$/ }

function originFailing(failing: boolean): RequestStep {
  return {
    method: 'POST',
    path: '/__origin/fail',
    body: { failing },
    expect: { status: [200, 204], xCache: null },
  }
}

function ageAtLeast(seconds: number): (reply: Reply) => void {
  return (reply) => expect(Number(reply.headers.age)).toBeGreaterThanOrEqual(seconds)
}

function jsonOf(labels: Labels, label: string): Record<string, unknown> {
  const reply = labels.get(label)
  if (!reply) throw new Error(`no reply labelled ${label}`)
  return jsonBody(reply) as Record<string, unknown>
}

/** Cart items are not shaped by the contract: a SKU string or an object with `sku`. */
function skusOf(reply: Reply): unknown[] {
  const { items } = jsonBody(reply) as { items: unknown[] }
  return items.map((item) =>
    typeof item === 'object' && item !== null ? (item as { sku?: unknown }).sku : item,
  )
}

function listingCategories(reply: Reply): unknown[] {
  const { items } = jsonBody(reply) as { items: { category: unknown }[] }
  return items.map((item) => item.category)
}

export const scenarios: readonly Scenario[] = [
  // --- GET /products/:id --------------------------------------------------
  {
    name: 'MISS then HIT: origin runs once, byte-identical body, Age and a stable ETag',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/1',
        label: 'miss',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { id: 1, category: 'cat-1', version: 1, price: expect.any(Number) },
          headers: { 'content-type': JSON_TYPE, etag: true },
          check: (reply) => expect(reply.body.length).toBeGreaterThan(1000),
        },
      },
      {
        path: '/products/1',
        expect: {
          status: 200,
          xCache: 'HIT',
          sameAs: 'miss',
          headers: { etag: { sameAs: 'miss' }, age: /^\d+$/ },
        },
      },
      { path: '/products/1', expect: { status: 200, xCache: 'HIT', sameAs: 'miss' } },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: 'an unknown id answers 404 JSON, which is stored',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/99999',
        label: 'miss',
        expect: { status: 404, xCache: 'MISS', json: { error: 'not found' } },
      },
      { path: '/products/99999', expect: { status: 404, xCache: 'HIT', sameAs: 'miss' } },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: 'key = path + lang: ?lang=fr is its own entry, other parameters are ignored',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/1?lang=fr',
        label: 'fr',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { id: 1, name: expect.stringMatching(/^fr:/) },
        },
      },
      {
        path: '/products/1',
        label: 'plain',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { id: 1, name: expect.not.stringMatching(/^fr:/) },
        },
      },
      { path: '/products/1?utm=x', expect: { status: 200, xCache: 'HIT', sameAs: 'plain' } },
      { path: '/products/1?utm=y&lang=fr', expect: { status: 200, xCache: 'HIT', sameAs: 'fr' } },
      { path: '/products/1?lang=fr', expect: { status: 200, xCache: 'HIT', sameAs: 'fr' } },
    ],
    originCalls: { total: 2, byRoute: { [PRODUCT]: 2 } },
  },
  {
    name: 'If-None-Match with the ETag of a cached 200 answers 304 HIT with no body',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/12',
        label: 'miss',
        expect: { status: 200, xCache: 'MISS', headers: { etag: true } },
      },
      {
        path: '/products/12',
        ifNoneMatch: { etagOf: 'miss' },
        expect: { status: 304, xCache: 'HIT', bodyEmpty: true },
      },
      {
        path: '/products/12',
        ifNoneMatch: '"not-the-etag"',
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss' },
      },
      {
        path: '/products/12',
        ifNoneMatch: { etagOf: 'miss' },
        expect: { status: 304, xCache: 'HIT', bodyEmpty: true },
      },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: 'If-Modified-Since no earlier than the stored copy answers 304 HIT; an earlier one 200',
    row: 'GET /products/:id',
    steps: [
      { path: '/products/13', label: 'miss', expect: { status: 200, xCache: 'MISS' } },
      {
        // The shop sends no Last-Modified: the time the copy was stored stands in (RFC 9111 §4.3.2).
        path: '/products/13',
        headers: { 'if-modified-since': 'Fri, 01 Jan 2100 00:00:00 GMT' },
        expect: {
          status: 304,
          xCache: 'HIT',
          bodyEmpty: true,
          headers: { etag: { sameAs: 'miss' } },
        },
      },
      {
        path: '/products/13',
        headers: { 'if-modified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' },
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss' },
      },
      {
        // If-None-Match decides when present (RFC 9110 §13.1.3): a tag that differs, 200.
        path: '/products/13',
        ifNoneMatch: '"not-the-etag"',
        headers: { 'if-modified-since': 'Fri, 01 Jan 2100 00:00:00 GMT' },
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss' },
      },
      {
        path: '/products/13',
        headers: { 'if-modified-since': 'not a date' },
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss' },
      },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: 'only-if-cached: 504 from the cache when nothing is stored, the stored copy once it is',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/15',
        headers: { 'cache-control': 'only-if-cached' },
        expect: {
          status: 504,
          xCache: 'MISS',
          headers: { 'cache-status': 'cachet; detail=only-if-cached', 'cache-control': 'no-store' },
        },
      },
      { path: '/products/15', label: 'miss', expect: { status: 200, xCache: 'MISS' } },
      {
        path: '/products/15',
        headers: { 'cache-control': 'only-if-cached' },
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss' },
      },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: 'HEAD on a cached GET entry: 200 HIT, no body, the GET body length',
    row: 'GET /products/:id',
    steps: [
      { path: '/products/10', label: 'get', expect: { status: 200, xCache: 'MISS' } },
      {
        method: 'HEAD',
        path: '/products/10',
        expect: {
          status: 200,
          xCache: 'HIT',
          bodyEmpty: true,
          headers: {
            'content-length': { lengthOf: 'get' },
            'content-type': { sameAs: 'get' },
            etag: true,
          },
        },
      },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: 'a cold HEAD is a MISS that fills the GET entry',
    row: 'GET /products/:id',
    steps: [
      {
        method: 'HEAD',
        path: '/products/11',
        expect: { status: 200, xCache: 'MISS', bodyEmpty: true },
      },
      {
        path: '/products/11',
        label: 'get',
        expect: { status: 200, xCache: 'HIT', json: { id: 11 } },
      },
      {
        method: 'HEAD',
        path: '/products/11',
        expect: {
          status: 200,
          xCache: 'HIT',
          bodyEmpty: true,
          headers: { 'content-length': { lengthOf: 'get' } },
        },
      },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: '50 concurrent cold requests for one key share one origin call',
    row: 'GET /products/:id',
    config: { originDelayMs: 100 },
    steps: [
      {
        concurrent: 50,
        request: { path: '/products/3' },
        expect: { status: 200, xCacheCounts: { MISS: 1, HIT: 49 }, json: { id: 3 } },
      },
      { path: '/products/3', expect: { status: 200, xCache: 'HIT', json: { id: 3 } } },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },
  {
    name: 'a request with Authorization is neither served from nor stored in the shared cache',
    row: 'GET /products/:id',
    steps: [
      ...times(2, {
        path: '/products/2',
        headers: u1,
        expect: { status: 200, xCache: 'BYPASS', json: { id: 2 } },
      } satisfies RequestStep),
      { path: '/products/2', label: 'miss', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/2', expect: { status: 200, xCache: 'HIT', sameAs: 'miss' } },
      { path: '/products/2', headers: u1, expect: { status: 200, xCache: 'BYPASS' } },
    ],
    originCalls: { total: 4, byRoute: { [PRODUCT]: 4 } },
  },
  {
    name: 'a request with Cookie is neither served from nor stored in the shared cache',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/2',
        headers: { cookie: 'sid=abc' },
        expect: { status: 200, xCache: 'BYPASS' },
      },
      { path: '/products/2', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/2', expect: { status: 200, xCache: 'HIT' } },
      {
        path: '/products/2',
        headers: { cookie: 'sid=abc' },
        expect: { status: 200, xCache: 'BYPASS' },
      },
    ],
    originCalls: { total: 3, byRoute: { [PRODUCT]: 3 } },
  },
  {
    name: 'a GET with a body is bypassed and stores nothing',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/4',
        body: 'hello',
        expect: { status: 200, xCache: 'BYPASS', json: { id: 4 } },
      },
      { path: '/products/4', expect: { status: 200, xCache: 'MISS' } },
    ],
    originCalls: { total: 2, byRoute: { [PRODUCT]: 2 } },
  },
  {
    name: 'request Cache-Control: no-store is bypassed and stores nothing',
    row: 'GET /products/:id',
    steps: [
      {
        path: '/products/5',
        headers: { 'cache-control': 'no-store' },
        expect: { status: 200, xCache: 'BYPASS', json: { id: 5 } },
      },
      { path: '/products/5', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/5', expect: { status: 200, xCache: 'HIT' } },
    ],
    originCalls: { total: 2, byRoute: { [PRODUCT]: 2 } },
  },

  // --- GET /products --------------------------------------------------------
  {
    name: 'key = path + all query parameters, order-insensitive',
    row: 'GET /products',
    steps: [
      {
        path: '/products?category=cat-3&page=2',
        label: 'page2',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { page: 2, items: expect.any(Array) },
          check: (reply) => expect(listingCategories(reply)).toEqual(times(20, 'cat-3')),
        },
      },
      {
        path: '/products?page=2&category=cat-3',
        expect: { status: 200, xCache: 'HIT', sameAs: 'page2' },
      },
      {
        path: '/products?category=cat-3&page=3',
        label: 'page3',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { page: 3 },
          check: (reply, labels) =>
            expect(reply.body.equals(labels.get('page2')!.body)).toBe(false),
        },
      },
      { path: '/products?category=cat-3&page=2&x=1', expect: { status: 200, xCache: 'MISS' } },
    ],
    originCalls: { total: 3, byRoute: { [LISTING]: 3 } },
  },
  {
    name: 'no parameters: the first page of all products, MISS then HIT',
    row: 'GET /products',
    steps: [
      {
        path: '/products',
        label: 'miss',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { page: 1 },
          headers: { etag: true },
          check: (reply) => expect(listingCategories(reply)).toHaveLength(20),
        },
      },
      { path: '/products', expect: { status: 200, xCache: 'HIT', sameAs: 'miss' } },
    ],
    originCalls: { total: 1, byRoute: { [LISTING]: 1 } },
  },

  // --- PUT /products/:id ----------------------------------------------------
  {
    name: 'a write invalidates the product and the listings before it answers',
    row: 'PUT /products/:id',
    steps: [
      { path: '/products/7', expect: { status: 200, xCache: 'MISS', json: { id: 7, version: 1 } } },
      { path: '/products/7', expect: { status: 200, xCache: 'HIT', json: { id: 7, version: 1 } } },
      { path: '/products?category=cat-7', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products?category=cat-7', expect: { status: 200, xCache: 'HIT' } },
      {
        method: 'PUT',
        path: '/products/7',
        body: { price: 12.5 },
        expect: { status: 200, xCache: null, json: { id: 7, version: 2, price: 12.5 } },
      },
      {
        path: '/products/7',
        expect: { status: 200, xCache: 'MISS', json: { id: 7, version: 2, price: 12.5 } },
      },
      {
        path: '/products?category=cat-7',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: {
            items: expect.arrayContaining([expect.objectContaining({ id: 7, price: 12.5 })]),
          },
        },
      },
    ],
    originCalls: { total: 5, byRoute: { [PRODUCT]: 2, [LISTING]: 2, 'PUT /products/:id': 1 } },
  },
  {
    name: 'a bad body answers 400 and invalidates nothing',
    row: 'PUT /products/:id',
    steps: [
      { path: '/products/8', label: 'miss', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products?category=cat-8', expect: { status: 200, xCache: 'MISS' } },
      {
        method: 'PUT',
        path: '/products/8',
        body: { price: 'x' },
        expect: { status: 400, xCache: null, headers: { 'content-type': JSON_TYPE } },
      },
      {
        path: '/products/8',
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', json: { version: 1 } },
      },
      { path: '/products?category=cat-8', expect: { status: 200, xCache: 'HIT' } },
    ],
    originCalls: { total: 3, byRoute: { [PRODUCT]: 1, [LISTING]: 1, 'PUT /products/:id': 1 } },
  },

  // --- GET /me/cart ---------------------------------------------------------
  {
    name: 'without a valid token: 401 BYPASS, origin every time',
    row: 'GET /me/cart',
    steps: [
      ...times(2, {
        path: '/me/cart',
        expect: { status: 401, xCache: 'BYPASS', headers: { 'content-type': JSON_TYPE } },
      } satisfies RequestStep),
      {
        path: '/me/cart',
        headers: { authorization: 'Bearer not a valid token!' },
        expect: { status: 401, xCache: 'BYPASS' },
      },
    ],
    originCalls: { total: 3, byRoute: { [CART]: 3 } },
  },
  {
    name: 'per user: each user has their own entry, never served to another',
    row: 'GET /me/cart',
    steps: [
      {
        path: '/me/cart',
        headers: u1,
        label: 'u1',
        expect: { status: 200, xCache: 'MISS', json: { user: 'u1', items: [] } },
      },
      { path: '/me/cart', headers: u1, expect: { status: 200, xCache: 'HIT', sameAs: 'u1' } },
      {
        path: '/me/cart',
        headers: u2,
        label: 'u2',
        expect: { status: 200, xCache: 'MISS', json: { user: 'u2' } },
      },
      {
        path: '/me/cart',
        headers: u2,
        expect: { status: 200, xCache: 'HIT', sameAs: 'u2', json: { user: 'u2' } },
      },
      {
        path: '/me/cart',
        headers: u1,
        expect: { status: 200, xCache: 'HIT', json: { user: 'u1' } },
      },
    ],
    originCalls: { total: 2, byRoute: { [CART]: 2 } },
  },

  // --- POST /me/cart --------------------------------------------------------
  {
    name: "an append invalidates only the writer's entries",
    row: 'POST /me/cart',
    steps: [
      { path: '/me/cart', headers: u1, label: 'before', expect: { status: 200, xCache: 'MISS' } },
      { path: '/me/cart', headers: u1, expect: { status: 200, xCache: 'HIT' } },
      { path: '/me/cart', headers: u2, label: 'u2', expect: { status: 200, xCache: 'MISS' } },
      {
        method: 'POST',
        path: '/me/cart',
        headers: u1,
        body: { sku: 'x' },
        expect: {
          status: 201,
          xCache: null,
          json: { user: 'u1' },
          check: (reply) => expect(skusOf(reply)).toEqual(['x']),
        },
      },
      {
        path: '/me/cart',
        headers: u1,
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { user: 'u1' },
          check: (reply, labels) => {
            expect(skusOf(reply)).toEqual(['x'])
            const { version } = jsonBody(reply) as { version: number }
            expect(version).toBeGreaterThan(jsonOf(labels, 'before').version as number)
          },
        },
      },
      {
        path: '/me/cart',
        headers: u2,
        expect: { status: 200, xCache: 'HIT', sameAs: 'u2', json: { user: 'u2', items: [] } },
      },
    ],
    originCalls: { total: 4, byRoute: { [CART]: 3, 'POST /me/cart': 1 } },
  },
  {
    name: 'without a token: 401, no X-Cache, nothing invalidated',
    row: 'POST /me/cart',
    steps: [
      { path: '/me/cart', headers: u1, expect: { status: 200, xCache: 'MISS' } },
      {
        method: 'POST',
        path: '/me/cart',
        body: { sku: 'x' },
        expect: { status: 401, xCache: null },
      },
      {
        path: '/me/cart',
        headers: u1,
        expect: { status: 200, xCache: 'HIT', json: { user: 'u1', items: [] } },
      },
    ],
    originCalls: { byRoute: { [CART]: 1, 'POST /me/cart': 1 } },
  },

  // --- GET /assets/:name ----------------------------------------------------
  {
    name: 'a small blob: MISS then HIT with exact bytes; HEAD answers its length',
    row: 'GET /assets/:name',
    steps: [
      {
        path: '/assets/blob-5000.bin',
        label: 'miss',
        expect: {
          status: 200,
          xCache: 'MISS',
          bodyLength: 5000,
          sha256: blobSha256(5000),
          headers: { 'content-type': /^application\/octet-stream/ },
        },
      },
      {
        path: '/assets/blob-5000.bin',
        expect: {
          status: 200,
          xCache: 'HIT',
          sameAs: 'miss',
          sha256: blobSha256(5000),
          headers: { 'content-length': '5000' },
        },
      },
      {
        method: 'HEAD',
        path: '/assets/blob-5000.bin',
        expect: {
          status: 200,
          xCache: 'HIT',
          bodyEmpty: true,
          headers: { 'content-length': '5000' },
        },
      },
    ],
    originCalls: { total: 1, byRoute: { [ASSET]: 1 } },
  },
  {
    name: 'exactly 1 MiB is stored',
    row: 'GET /assets/:name',
    steps: [
      {
        path: '/assets/blob-1048576.bin',
        label: 'miss',
        expect: { status: 200, xCache: 'MISS', bodyLength: 1048576, sha256: blobSha256(1048576) },
      },
      {
        path: '/assets/blob-1048576.bin',
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', sha256: blobSha256(1048576) },
      },
    ],
    originCalls: { total: 1, byRoute: { [ASSET]: 1 } },
  },
  {
    name: 'over 1 MiB passes through: BYPASS every time, exact bytes',
    row: 'GET /assets/:name',
    steps: times(3, {
      path: '/assets/blob-2000000.bin',
      expect: {
        status: 200,
        xCache: 'BYPASS',
        bodyLength: 2_000_000,
        sha256: blobSha256(2_000_000),
        headers: { 'content-type': /^application\/octet-stream/ },
      },
    } satisfies RequestStep),
    originCalls: { total: 3, byRoute: { [ASSET]: 3 } },
  },
  {
    name: 'a name that is not blob-<bytes>.bin answers 404',
    row: 'GET /assets/:name',
    steps: [
      // The asset rule does not list its statuses: stored or not, the rule matched.
      { path: '/assets/logo.png', expect: { status: 404, xCache: ['MISS', 'BYPASS'] } },
    ],
    originCalls: { total: 1, byRoute: { [ASSET]: 1 } },
  },

  // --- GET /stream/:chunks --------------------------------------------------
  {
    name: 'a small stream: MISS then HIT, exact bytes',
    row: 'GET /stream/:chunks',
    steps: [
      {
        path: '/stream/10',
        label: 'miss',
        expect: {
          status: 200,
          xCache: 'MISS',
          bodyLength: 10 * 1024,
          sha256: streamSha256(10),
          headers: { 'content-type': /^text\/plain/ },
        },
      },
      {
        path: '/stream/10',
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', sha256: streamSha256(10) },
      },
    ],
    originCalls: { total: 1, byRoute: { [STREAM]: 1 } },
  },
  {
    name: 'a stream past 1 MiB is not stored; the next request bypasses',
    row: 'GET /stream/:chunks',
    steps: [
      // The cap is only passed mid-stream, after the headers went out as a MISS.
      {
        path: '/stream/2000',
        expect: {
          status: 200,
          xCache: ['MISS', 'BYPASS'],
          bodyLength: 2000 * 1024,
          sha256: streamSha256(2000),
        },
      },
      {
        path: '/stream/2000',
        expect: {
          status: 200,
          xCache: 'BYPASS',
          bodyLength: 2000 * 1024,
          sha256: streamSha256(2000),
        },
      },
    ],
    originCalls: { total: 2, byRoute: { [STREAM]: 2 } },
  },

  // --- GET /status/:code ----------------------------------------------------
  {
    name: '200 and 404 are stored',
    row: 'GET /status/:code',
    steps: [
      {
        path: '/status/200',
        label: 'ok',
        expect: { status: 200, xCache: 'MISS', json: { status: 200 } },
      },
      { path: '/status/200', expect: { status: 200, xCache: 'HIT', sameAs: 'ok' } },
      {
        path: '/status/404',
        label: 'nf',
        expect: { status: 404, xCache: 'MISS', json: { status: 404 } },
      },
      { path: '/status/404', expect: { status: 404, xCache: 'HIT', sameAs: 'nf' } },
    ],
    originCalls: { total: 2, byRoute: { [STATUS]: 2 } },
  },
  ...[500, 503, 201].map(
    (code): Scenario => ({
      name: `${code} is answered as is, BYPASS every time, never stored`,
      row: 'GET /status/:code',
      steps: times(3, {
        path: `/status/${code}`,
        expect: { status: code, xCache: 'BYPASS', json: { status: code } },
      } satisfies RequestStep),
      originCalls: { total: 3, byRoute: { [STATUS]: 3 } },
    }),
  ),

  {
    name: '204 carries no body and no Content-Length (RFC 9110 §8.6), BYPASS, never stored',
    row: 'GET /status/:code',
    steps: times(2, {
      path: '/status/204',
      expect: {
        status: 204,
        xCache: 'BYPASS',
        bodyEmpty: true,
        headers: { 'content-length': null },
      },
    } satisfies RequestStep),
    originCalls: { total: 2, byRoute: { [STATUS]: 2 } },
  },

  // --- GET /slow/:id --------------------------------------------------------
  {
    name: 'MISS then HIT without waiting for the origin again',
    row: 'GET /slow/:id',
    steps: [
      { path: '/slow/1', label: 'miss', expect: { status: 200, xCache: 'MISS', json: { id: 1 } } },
      {
        path: '/slow/1',
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', headers: { age: /^\d+$/ } },
      },
    ],
    originCalls: { total: 1, byRoute: { 'GET /slow/:id': 1 } },
  },
  {
    name: 'stale-while-revalidate: the stale copy at once, then one background call refreshes it',
    row: 'GET /slow/:id',
    steps: [
      {
        path: '/slow/1',
        label: 'miss',
        expect: { status: 200, xCache: 'MISS', json: { id: 1, version: 1 } },
      },
      { path: '/slow/1', expect: { status: 200, xCache: 'HIT', sameAs: 'miss' } },
      { clock: INSIDE_SWR_MS },
      {
        path: '/slow/1',
        expect: {
          status: 200,
          xCache: 'STALE',
          sameAs: 'miss',
          headers: { etag: { sameAs: 'miss' }, 'cache-status': SWR_STATUS },
          check: ageAtLeast(5),
        },
      },
      // The background refresh: one origin call, which nobody waits on.
      { waitFor: { originCalls: { [SLOW]: 2 }, refreshes: { started: 1 } } },
      // The refreshed copy (same product, so the same bytes), stored just now.
      {
        path: '/slow/1',
        retryWhile: ['STALE'],
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', headers: FRESH_HIT },
      },
    ],
    originCalls: { total: 2, byRoute: { [SLOW]: 2 } },
  },
  {
    name: 'stale-while-revalidate: 20 concurrent requests past the ttl start one background call',
    row: 'GET /slow/:id',
    steps: [
      { path: '/slow/2', label: 'miss', expect: { status: 200, xCache: 'MISS', json: { id: 2 } } },
      { clock: INSIDE_SWR_MS },
      {
        concurrent: 20,
        request: { path: '/slow/2' },
        expect: { status: 200, xCacheAmong: ['STALE', 'HIT'], json: { id: 2, version: 1 } },
      },
      { waitFor: { originCalls: { [SLOW]: 2 }, refreshes: { started: 1 } } },
      {
        path: '/slow/2',
        retryWhile: ['STALE'],
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', headers: FRESH_HIT },
      },
    ],
    originCalls: { total: 2, byRoute: { [SLOW]: 2 } },
  },
  {
    name: 'stale-while-revalidate: a refresh the origin fails keeps the stale copy; a later one succeeds',
    row: 'GET /slow/:id',
    steps: [
      { path: '/slow/3', label: 'miss', expect: { status: 200, xCache: 'MISS', json: { id: 3 } } },
      { clock: INSIDE_SWR_MS },
      originFailing(true),
      {
        path: '/slow/3',
        expect: {
          status: 200,
          xCache: 'STALE',
          sameAs: 'miss',
          headers: { 'cache-status': SWR_STATUS },
        },
      },
      // The background call runs (and counts) and answers 503: nothing stored.
      { waitFor: { originCalls: { [SLOW]: 2 }, refreshes: { notStored: 1 } } },
      // The good copy is still there, and no second refresh starts before
      // REVALIDATE_RETRY_MS (1 s) has passed.
      { path: '/slow/3', expect: { status: 200, xCache: 'STALE', sameAs: 'miss' } },
      // The failed refresh answered nobody: it is no stale-if-error answer.
      {
        waitFor: {
          originCalls: { [SLOW]: 2 },
          refreshes: { started: 1, notStored: 1 },
          staleAnswers: { revalidate: 2, error: 0 },
        },
      },
      originFailing(false),
      { clock: 1_100 },
      // Past the retry delay: this request starts another refresh, which succeeds.
      {
        path: '/slow/3',
        expect: {
          status: 200,
          xCache: 'STALE',
          sameAs: 'miss',
          headers: { 'cache-status': SWR_STATUS },
        },
      },
      { waitFor: { originCalls: { [SLOW]: 3 }, refreshes: { started: 2 } } },
      {
        path: '/slow/3',
        retryWhile: ['STALE'],
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', headers: FRESH_HIT },
      },
    ],
    originCalls: { total: 3, byRoute: { [SLOW]: 3 } },
  },
  {
    name: 'stale-if-error: past the revalidate window, a failing origin is answered with the stale copy',
    row: 'GET /slow/:id',
    steps: [
      { path: '/slow/4', label: 'miss', expect: { status: 200, xCache: 'MISS', json: { id: 4 } } },
      { clock: INSIDE_SIE_MS },
      originFailing(true),
      {
        path: '/slow/4',
        expect: {
          status: 200,
          xCache: 'STALE',
          sameAs: 'miss',
          headers: { etag: { sameAs: 'miss' }, 'cache-status': SIE_STATUS_503 },
          check: ageAtLeast(40),
        },
      },
      { waitFor: { staleAnswers: { revalidate: 0, error: 1 } } },
      originFailing(false),
      // The 503 replaced nothing: the next call goes to the origin and refreshes the entry.
      {
        path: '/slow/4',
        label: 'fresh',
        expect: {
          status: 200,
          xCache: 'MISS',
          json: { id: 4, version: 1 },
          headers: { 'cache-status': 'cachet; fwd=stale' },
        },
      },
      {
        path: '/slow/4',
        expect: { status: 200, xCache: 'HIT', sameAs: 'fresh', headers: FRESH_HIT },
      },
    ],
    originCalls: { total: 3, byRoute: { [SLOW]: 3 } },
  },
  {
    name: 'originTimeout (CACHE_RULE_OPTIONS): a route slower than soft is answered with the stale copy, its answer stored',
    row: 'GET /slow/:id',
    config: {
      originDelayMs: 400,
      ruleOptions: { slow: { staleWhileRevalidate: 0, originTimeout: { soft: '100ms' } } },
    },
    steps: [
      { path: '/slow/6', label: 'miss', expect: { status: 200, xCache: 'MISS', json: { id: 6 } } },
      { clock: SLOW_TTL_MS + 1_000 },
      {
        path: '/slow/6',
        expect: {
          status: 200,
          xCache: 'STALE',
          sameAs: 'miss',
          headers: { 'cache-status': /^cachet; fwd=stale; ttl=-\d+; detail=origin-timeout$/ },
        },
      },
      { waitFor: { staleAnswers: { timeout: 1 } } },
      // The route ran on: its answer lands, and is a hit from then on.
      {
        path: '/slow/6',
        retryWhile: ['STALE'],
        expect: { status: 200, xCache: 'HIT', headers: FRESH_HIT },
      },
    ],
    originCalls: { total: 2, byRoute: { [SLOW]: 2 } },
  },
  {
    name: 'past both stale windows a failing origin passes through: 503 BYPASS, nothing stored',
    row: 'GET /slow/:id',
    steps: [
      { path: '/slow/5', expect: { status: 200, xCache: 'MISS', json: { id: 5 } } },
      { clock: PAST_SIE_MS },
      originFailing(true),
      {
        path: '/slow/5',
        expect: {
          status: 503,
          xCache: 'BYPASS',
          json: { error: 'origin failing' },
          headers: { age: null },
        },
      },
      originFailing(false),
      { path: '/slow/5', expect: { status: 200, xCache: 'MISS', json: { id: 5 } } },
    ],
    originCalls: { total: 3, byRoute: { [SLOW]: 3 } },
  },
  {
    name: 'an invalidated entry is never served stale',
    row: 'GET /slow/:id',
    steps: [
      { path: '/slow/1', expect: { status: 200, xCache: 'MISS', json: { id: 1, version: 1 } } },
      {
        method: 'PUT',
        path: '/products/1',
        body: { price: 12.5 },
        expect: { status: 200, xCache: null, json: { id: 1, version: 2, price: 12.5 } },
      },
      { clock: INSIDE_SWR_MS },
      {
        path: '/slow/1',
        expect: { status: 200, xCache: 'MISS', json: { id: 1, version: 2, price: 12.5 } },
      },
    ],
    originCalls: { total: 3, byRoute: { [SLOW]: 2, [PRODUCT_WRITE]: 1 } },
  },
  {
    name: 'a write right after a STALE answer: the refresh under way never brings the old version back',
    row: 'GET /slow/:id',
    steps: [
      {
        path: '/slow/1',
        label: 'v1',
        expect: { status: 200, xCache: 'MISS', json: { id: 1, version: 1 } },
      },
      { clock: INSIDE_SWR_MS },
      // Starts the background refresh, which waits 50 ms at the origin…
      { path: '/slow/1', expect: { status: 200, xCache: 'STALE', sameAs: 'v1' } },
      // …once it is there (so it read its fences, local and Redis, before the
      // write), the write lands while it most likely still waits. A write
      // racing the refresh's Redis reads may instead let the refresh store the
      // new version (a HIT of version 2 next): also right, but not what this
      // scenario pins down.
      { waitFor: { originCalls: { [SLOW]: 2 } } },
      {
        method: 'PUT',
        path: '/products/1',
        body: { price: 12.5 },
        expect: { status: 200, xCache: null, json: { id: 1, version: 2, price: 12.5 } },
      },
      // Whatever the refresh read, it is not stored over the write: a miss.
      {
        path: '/slow/1',
        label: 'v2',
        expect: { status: 200, xCache: 'MISS', json: { id: 1, version: 2, price: 12.5 } },
      },
      {
        path: '/slow/1',
        expect: { status: 200, xCache: 'HIT', sameAs: 'v2', json: { version: 2, price: 12.5 } },
      },
    ],
    originCalls: { total: 4, byRoute: { [SLOW]: 3, [PRODUCT_WRITE]: 1 } },
  },

  // --- GET /private/:id, GET /session ---------------------------------------
  {
    name: 'a Cache-Control: private response is never stored',
    row: 'GET /private/:id',
    steps: times(3, {
      path: '/private/1',
      expect: { status: 200, xCache: 'BYPASS', headers: { 'cache-control': /private/ } },
    } satisfies RequestStep),
    originCalls: { total: 3, byRoute: { 'GET /private/:id': 3 } },
  },
  {
    name: 'a response with Set-Cookie is never stored',
    row: 'GET /session',
    steps: times(3, {
      path: '/session',
      expect: { status: 200, xCache: 'BYPASS', headers: { 'set-cookie': true } },
    } satisfies RequestStep),
    originCalls: { total: 3, byRoute: { 'GET /session': 3 } },
  },

  // --- /__origin/* ----------------------------------------------------------
  {
    name: 'the origin counters are uncached, count handler runs, and reset to zero',
    row: 'GET /__origin/calls, POST /__origin/reset',
    steps: [
      { path: '/products/1', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/1', expect: { status: 200, xCache: 'HIT' } },
      {
        path: '/__origin/calls',
        expect: { status: 200, xCache: null, json: { total: 1, byRoute: { [PRODUCT]: 1 } } },
      },
      {
        method: 'POST',
        path: '/__origin/reset',
        expect: { status: 204, xCache: null, bodyEmpty: true },
      },
      {
        path: '/__origin/calls',
        expect: {
          status: 200,
          xCache: null,
          json: { total: 0 },
          check: (reply) => {
            const { byRoute } = jsonBody(reply) as { byRoute: Record<string, number> }
            expect(Object.values(byRoute).filter((n) => n !== 0)).toEqual([])
          },
        },
      },
      // Resetting the counters leaves the cache alone.
      { path: '/products/1', expect: { status: 200, xCache: 'HIT' } },
    ],
    originCalls: { total: 0, byRoute: {} },
  },
  {
    name: 'a failing origin: cold keys answer 503 unstored, cached keys keep serving',
    row: 'GET /__origin/fail + POST /__origin/fail',
    steps: [
      { path: '/__origin/fail', expect: { status: 200, xCache: null, json: { failing: false } } },
      { path: '/products/6', label: 'p6', expect: { status: 200, xCache: 'MISS' } },
      {
        method: 'POST',
        path: '/__origin/fail',
        body: { failing: true },
        expect: { status: [200, 204], xCache: null },
      },
      { path: '/__origin/fail', expect: { status: 200, xCache: null, json: { failing: true } } },
      ...times(2, {
        path: '/products/5',
        expect: { status: 503, xCache: 'BYPASS' },
      } satisfies RequestStep),
      { path: '/products/6', expect: { status: 200, xCache: 'HIT', sameAs: 'p6' } },
      {
        method: 'POST',
        path: '/__origin/fail',
        body: { failing: false },
        expect: { status: [200, 204], xCache: null },
      },
      { path: '/__origin/fail', expect: { status: 200, xCache: null, json: { failing: false } } },
      { path: '/products/5', expect: { status: 200, xCache: 'MISS', json: { id: 5 } } },
      { path: '/products/5', expect: { status: 200, xCache: 'HIT', json: { id: 5 } } },
    ],
    originCalls: { byRoute: { [PRODUCT]: 4 } },
  },

  // --- /admin/cache/* -------------------------------------------------------
  {
    name: 'without CACHE_ADMIN_TOKEN the admin routes answer 404',
    row: '/admin/cache/...',
    steps: [
      { path: '/admin/cache/stats', expect: { status: 404, xCache: null } },
      {
        path: '/admin/cache/stats',
        headers: { authorization: 'Bearer anything' },
        expect: { status: 404, xCache: null },
      },
    ],
    originCalls: { total: 0, byRoute: {} },
  },

  // --- cache.invalidate() ---------------------------------------------------
  {
    name: 'invalidate({ tags }) drops exactly the tagged entries',
    row: 'programmatic invalidation',
    steps: [
      { path: '/products/3', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/4', expect: { status: 200, xCache: 'MISS' } },
      { invalidate: { tags: ['product:3'] } },
      { path: '/products/3', expect: { status: 200, xCache: 'MISS', json: { id: 3 } } },
      { path: '/products/4', expect: { status: 200, xCache: 'HIT', json: { id: 4 } } },
    ],
    originCalls: { total: 3, byRoute: { [PRODUCT]: 3 } },
  },
  {
    name: "invalidate({ pattern }) on a rule's route drops every entry of that route",
    row: 'programmatic invalidation',
    steps: [
      { path: '/products/3', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/4', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/1?lang=fr', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products?category=cat-1', expect: { status: 200, xCache: 'MISS' } },
      { invalidate: { pattern: '/products/:id' } },
      { path: '/products/3', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/4', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/1?lang=fr', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products?category=cat-1', expect: { status: 200, xCache: 'HIT' } },
    ],
    originCalls: { total: 7, byRoute: { [PRODUCT]: 6, [LISTING]: 1 } },
  },
  {
    name: 'invalidate({ pattern: "/assets/*" }) drops assets, products stay',
    row: 'programmatic invalidation',
    steps: [
      { path: '/assets/blob-100.bin', expect: { status: 200, xCache: 'MISS' } },
      { path: '/assets/blob-200.bin', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/3', expect: { status: 200, xCache: 'MISS' } },
      { invalidate: { pattern: '/assets/*' } },
      {
        path: '/assets/blob-100.bin',
        expect: { status: 200, xCache: 'MISS', sha256: blobSha256(100) },
      },
      {
        path: '/assets/blob-200.bin',
        expect: { status: 200, xCache: 'MISS', sha256: blobSha256(200) },
      },
      { path: '/products/3', expect: { status: 200, xCache: 'HIT' } },
    ],
    originCalls: { total: 5, byRoute: { [ASSET]: 4, [PRODUCT]: 1 } },
  },
  {
    name: "invalidate({ user }) drops that user's entries only",
    row: 'programmatic invalidation',
    steps: [
      { path: '/me/cart', headers: u1, expect: { status: 200, xCache: 'MISS' } },
      { path: '/me/cart', headers: u2, expect: { status: 200, xCache: 'MISS' } },
      { invalidate: { user: 'u1' } },
      {
        path: '/me/cart',
        headers: u1,
        expect: { status: 200, xCache: 'MISS', json: { user: 'u1' } },
      },
      {
        path: '/me/cart',
        headers: u2,
        expect: { status: 200, xCache: 'HIT', json: { user: 'u2' } },
      },
    ],
    originCalls: { total: 3, byRoute: { [CART]: 3 } },
  },
  {
    name: 'an invalid target rejects, names the bad field, and invalidates nothing',
    row: 'programmatic invalidation',
    steps: [
      { path: '/products/3', expect: { status: 200, xCache: 'MISS' } },
      { invalidateRejects: {}, message: /tags|pattern|user/ },
      { invalidateRejects: { tags: [''] }, message: /tags/ },
      { invalidateRejects: { tags: 'product:3' }, message: /tags/ },
      { invalidateRejects: { pattern: 'no-slash' }, message: /pattern/ },
      { invalidateRejects: { user: '' }, message: /user/ },
      { path: '/products/3', expect: { status: 200, xCache: 'HIT' } },
    ],
    originCalls: { total: 1, byRoute: { [PRODUCT]: 1 } },
  },

  // --- CACHE_L1_MAX_BYTES ---------------------------------------------------
  {
    name: 'an entry larger than the memory budget is never served from it',
    row: 'CACHE_L1_MAX_BYTES (l1MaxBytes)',
    config: { l1MaxBytes: 64 * 1024 },
    stores: ['memory'],
    steps: [
      ...times(2, {
        path: '/assets/blob-100000.bin',
        expect: {
          status: 200,
          xCache: ['MISS', 'BYPASS'],
          bodyLength: 100_000,
          sha256: blobSha256(100_000),
        },
      } satisfies RequestStep),
      { path: '/products/1', expect: { status: 200, xCache: 'MISS' } },
      { path: '/products/1', expect: { status: 200, xCache: 'HIT' } },
    ],
    originCalls: { total: 3, byRoute: { [ASSET]: 2, [PRODUCT]: 1 } },
  },
  {
    name: 'an entry larger than the memory budget is served from Redis',
    row: 'CACHE_L1_MAX_BYTES (l1MaxBytes)',
    config: { l1MaxBytes: 64 * 1024 },
    stores: ['redis'],
    steps: [
      {
        path: '/assets/blob-100000.bin',
        label: 'miss',
        expect: { status: 200, xCache: 'MISS', sha256: blobSha256(100_000) },
      },
      {
        path: '/assets/blob-100000.bin',
        expect: { status: 200, xCache: 'HIT', sameAs: 'miss', sha256: blobSha256(100_000) },
      },
    ],
    originCalls: { total: 1, byRoute: { [ASSET]: 1 } },
  },
]
