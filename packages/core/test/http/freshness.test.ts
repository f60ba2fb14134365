import fc from 'fast-check'
import { parseCacheControl } from '../../src/http/cache-control'
import {
  currentAge,
  type Freshness,
  type FreshnessOptions,
  freshnessLifetime,
  type HeaderRecord,
  MAX_DELTA_SECONDS,
  parseHttpDate,
  requestAllows,
  type ServeVerdict,
  type StoredFreshness,
} from '../../src/http/freshness'

const S = 1000
const MIN = 60 * S
const H = 60 * MIN
const MAX_MS = MAX_DELTA_SECONDS * S
/** The RFC 9110 §5.6.7 example date. */
const T = Date.UTC(1994, 10, 6, 8, 49, 37)
const DATE = 'Sun, 06 Nov 1994 08:49:37 GMT'
const http = (ms: number) => new Date(ms).toUTCString()

describe('freshnessLifetime', () => {
  type Case = [string, number, HeaderRecord, FreshnessOptions, Freshness]
  const at = { responseTime: T }
  const cases: Case[] = [
    // Explicit expiration, in order of precedence.
    [
      'RFC 9111 §4.2.1: s-maxage wins over max-age in a shared cache',
      200,
      { 'cache-control': 'max-age=60, s-maxage=600' },
      {},
      { lifetimeMs: 600 * S, source: 's-maxage' },
    ],
    [
      'RFC 9111 §5.2.2.10: a private cache ignores s-maxage',
      200,
      { 'cache-control': 'max-age=60, s-maxage=600' },
      { shared: false },
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.2.2.10: a private cache ignores even an invalid s-maxage',
      200,
      { 'cache-control': 's-maxage=abc, max-age=60' },
      { shared: false },
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.2.2.1: max-age',
      200,
      { 'cache-control': 'public, max-age=60' },
      {},
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.2.2.1: max-age=0 is explicit: stale, no heuristic',
      200,
      { 'cache-control': 'max-age=0', date: DATE, 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.3: max-age makes Expires ignored',
      200,
      { 'cache-control': 'max-age=60', date: DATE, expires: http(T + H) },
      at,
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.3: max-age makes even an invalid Expires ignored',
      200,
      { 'cache-control': 'max-age=60', expires: '0' },
      at,
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.3: s-maxage makes a shared cache ignore Expires',
      200,
      { 'cache-control': 's-maxage=5', date: DATE, expires: http(T + H) },
      at,
      { lifetimeMs: 5 * S, source: 's-maxage' },
    ],
    [
      'RFC 9111 §4.2.1: Expires minus Date',
      200,
      { date: DATE, expires: http(T + H) },
      { responseTime: T + 30 * S },
      { lifetimeMs: H, source: 'expires' },
    ],
    [
      'RFC 9111 §4.2.1: Expires without Date counts from the response time',
      200,
      { expires: http(T + H) },
      { responseTime: T + 10 * MIN },
      { lifetimeMs: 50 * MIN, source: 'expires' },
    ],
    [
      'RFC 9111 §4.2.1: an invalid Date is no Date (response time)',
      200,
      { date: 'yesterday', expires: http(T + H) },
      { responseTime: T + 10 * MIN },
      { lifetimeMs: 50 * MIN, source: 'expires' },
    ],
    [
      'RFC 9111 §5.3: Expires: 0 means already expired',
      200,
      { date: DATE, expires: '0', 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: 0, source: 'expires' },
    ],
    [
      'RFC 9111 §5.3: Expires: -1 means already expired',
      200,
      { expires: '-1' },
      at,
      { lifetimeMs: 0, source: 'expires' },
    ],
    [
      'RFC 9111 §5.3: an empty Expires means already expired',
      200,
      { expires: '' },
      at,
      { lifetimeMs: 0, source: 'expires' },
    ],
    [
      'RFC 9111 §5.3: Expires in a non-GMT zone is invalid (§4.2): expired',
      200,
      { date: DATE, expires: 'Sun, 06 Nov 1994 09:49:37 PST' },
      at,
      { lifetimeMs: 0, source: 'expires' },
    ],
    [
      'RFC 9111 §4.2.1: Expires before Date is stale, not negative',
      200,
      { date: DATE, expires: http(T - H) },
      at,
      { lifetimeMs: 0, source: 'expires' },
    ],
    [
      'RFC 9111 §4.2.1: two different Expires lines are stale',
      200,
      { date: DATE, expires: [http(T + H), http(T + 2 * H)] },
      at,
      { lifetimeMs: 0, source: 'expires' },
    ],
    [
      'RFC 9111 §4.2.1: two identical Expires lines are one value',
      200,
      { date: DATE, expires: [http(T + H), http(T + H)] },
      at,
      { lifetimeMs: H, source: 'expires' },
    ],
    [
      'RFC 9111 §1.2.2: Expires beyond 2^31 s is capped',
      200,
      { date: DATE, expires: 'Fri, 31 Dec 9999 23:59:59 GMT' },
      at,
      { lifetimeMs: MAX_MS, source: 'expires' },
    ],
    // Malformed and conflicting directives: stale, never a fall-through.
    [
      'RFC 9111 §4.2.1: max-age=abc is invalid: stale',
      200,
      { 'cache-control': 'max-age=abc', expires: http(T + H) },
      at,
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §1.2.2: max-age=-1 (a sign) is invalid: stale',
      200,
      { 'cache-control': 'max-age=-1' },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §1.2.2: max-age=+5 (a sign) is invalid: stale',
      200,
      { 'cache-control': 'max-age=+5' },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §1.2.2: max-age=1.5 (a fraction) is invalid: stale',
      200,
      { 'cache-control': 'max-age=1.5' },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §1.2.2: max-age= (empty) is invalid: stale',
      200,
      { 'cache-control': 'max-age=' },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.2.2.1: max-age without an argument is invalid: stale',
      200,
      { 'cache-control': 'max-age, public' },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.2: the quoted form max-age="10" is accepted',
      200,
      { 'cache-control': 'max-age="10"' },
      {},
      { lifetimeMs: 10 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §1.2.2: leading zeros are digits',
      200,
      { 'cache-control': 'max-age=0010' },
      {},
      { lifetimeMs: 10 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §4.2.1: conflicting max-age directives are stale',
      200,
      { 'cache-control': 'max-age=10, max-age=20' },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §4.2.1: conflicting max-age across header lines is stale',
      200,
      { 'cache-control': ['public, max-age=10', 'MAX-AGE=20'] },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §4.2.1: a valid max-age repeated with an invalid one is stale',
      200,
      { 'cache-control': 'max-age=10, max-age=x' },
      {},
      { lifetimeMs: 0, source: 'max-age' },
    ],
    [
      'RFC 9111 §4.2.1: a max-age repeated with the same value is that value',
      200,
      { 'cache-control': 'max-age=10, max-age="10"' },
      {},
      { lifetimeMs: 10 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §4.2.1: conflicting s-maxage directives are stale in a shared cache',
      200,
      { 'cache-control': 's-maxage=10, max-age=60, s-maxage=20' },
      {},
      { lifetimeMs: 0, source: 's-maxage' },
    ],
    [
      'RFC 9111 §4.2.1: an invalid s-maxage does not fall back to max-age',
      200,
      { 'cache-control': 's-maxage=soon, max-age=60' },
      {},
      { lifetimeMs: 0, source: 's-maxage' },
    ],
    [
      'RFC 9111 §5.2: "max-age=1" inside a quoted extension value is not a directive',
      200,
      { 'cache-control': 'ext="a, max-age=1", max-age=60' },
      {},
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    [
      'RFC 9111 §1.2.2: max-age above 2^31 is capped at 2^31 s',
      200,
      { 'cache-control': 'max-age=99999999999999999999999999' },
      {},
      { lifetimeMs: MAX_MS, source: 'max-age' },
    ],
    [
      'RFC 9111 §1.2.2: max-age of exactly 2^31 is kept',
      200,
      { 'cache-control': `max-age=${2 ** 31}` },
      {},
      { lifetimeMs: MAX_MS, source: 'max-age' },
    ],
    [
      'RFC 9111 §5.2.2.4: no-cache does not change the lifetime (reuse is requestAllows’)',
      200,
      { 'cache-control': 'no-cache, max-age=60' },
      {},
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    // Heuristics.
    [
      'RFC 9111 §4.2.2: heuristic lifetime is 10% of Date minus Last-Modified',
      200,
      { date: DATE, 'last-modified': http(T - 10 * H) },
      { responseTime: T + 5 * S },
      { lifetimeMs: H, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: heuristic lifetime is capped at 24 h by default',
      200,
      { date: DATE, 'last-modified': http(T - 1000 * 24 * H) },
      at,
      { lifetimeMs: 24 * H, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: heuristicMaxMs sets the cap',
      200,
      { date: DATE, 'last-modified': http(T - 10 * H) },
      { ...at, heuristicMaxMs: 5 * MIN },
      { lifetimeMs: 5 * MIN, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: heuristicFraction sets the fraction',
      200,
      { date: DATE, 'last-modified': http(T - 10 * H) },
      { ...at, heuristicFraction: 0.05 },
      { lifetimeMs: 30 * MIN, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: a negative heuristicFraction gives no lifetime',
      200,
      { date: DATE, 'last-modified': http(T - 10 * H) },
      { ...at, heuristicFraction: -1 },
      { lifetimeMs: 0, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: without Date, Last-Modified counts to the response time',
      200,
      { 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: H, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: Last-Modified after Date gives no lifetime',
      200,
      { date: DATE, 'last-modified': http(T + H) },
      at,
      { lifetimeMs: 0, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: an invalid Last-Modified gives no heuristic',
      200,
      { date: DATE, 'last-modified': '2020' },
      at,
      { lifetimeMs: 0, source: 'none' },
    ],
    [
      'RFC 9111 §4.2.2: conflicting Last-Modified lines give no heuristic',
      200,
      { date: DATE, 'last-modified': [http(T - H), http(T - 2 * H)] },
      at,
      { lifetimeMs: 0, source: 'none' },
    ],
    [
      'RFC 9111 §4.2.2: no Last-Modified, no heuristic',
      200,
      { date: DATE },
      at,
      { lifetimeMs: 0, source: 'none' },
    ],
    [
      'RFC 9111 §4.2.2: 302 is not heuristically cacheable (RFC 9110 §15.1)',
      302,
      { date: DATE, 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: 0, source: 'none' },
    ],
    [
      'RFC 9111 §4.2.2: 500 is not heuristically cacheable (RFC 9110 §15.1)',
      500,
      { date: DATE, 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: 0, source: 'none' },
    ],
    [
      'RFC 9111 §4.2.2: public makes any status heuristically cacheable',
      302,
      { 'cache-control': 'Public', date: DATE, 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: H, source: 'heuristic' },
    ],
    [
      'RFC 9111 §4.2.2: explicit expiration, even invalid, rules out heuristics',
      200,
      { 'cache-control': 'public', expires: 'never', 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: 0, source: 'expires' },
    ],
    // Header shapes.
    [
      'RFC 9110 §5.1: field names are case-insensitive',
      200,
      { 'Cache-Control': 'S-MaxAge=30', Date: DATE },
      {},
      { lifetimeMs: 30 * S, source: 's-maxage' },
    ],
    [
      'RFC 9110 §5.3: several Cache-Control lines are one list',
      200,
      { 'cache-control': ['public', 'max-age=60'] },
      {},
      { lifetimeMs: 60 * S, source: 'max-age' },
    ],
    [
      'RFC 9110 §5.3: an empty list is no field',
      200,
      { expires: [], date: DATE, 'last-modified': http(T - 10 * H) },
      at,
      { lifetimeMs: H, source: 'heuristic' },
    ],
    ['RFC 9111 §4.2: nothing at all: no lifetime', 200, {}, {}, { lifetimeMs: 0, source: 'none' }],
  ]

  test.each(cases)('%s', (_, status, headers, opts, expected) => {
    expect(freshnessLifetime({ status, headers }, opts)).toEqual(expected)
  })

  test.each([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])(
    'RFC 9110 §15.1: %i is heuristically cacheable',
    (status) => {
      const headers = { date: DATE, 'last-modified': http(T - 10 * H) }
      expect(freshnessLifetime({ status, headers }, { responseTime: T })).toEqual({
        lifetimeMs: H,
        source: 'heuristic',
      })
    },
  )
})

describe('currentAge', () => {
  type Case = [string, HeaderRecord, [number, number, number], number]
  const cases: Case[] = [
    ['RFC 9111 §4.2.3: a new response is age 0', { date: DATE }, [T, T, T], 0],
    ['RFC 9111 §4.2.3: resident time adds up', { date: DATE }, [T, T, T + 90 * S], 90 * S],
    ['RFC 9111 §4.2.3: response delay is added to Age', { age: '10' }, [T, T + 2 * S, T], 12 * S],
    [
      'RFC 9111 §4.2.3: apparent age from Date wins when larger',
      { date: DATE, age: '10' },
      [T + 58 * S, T + 60 * S, T + 70 * S],
      70 * S,
    ],
    [
      'RFC 9111 §4.2.3: corrected Age wins when larger than apparent age',
      { date: DATE, age: '100' },
      [T, T + S, T + 11 * S],
      111 * S,
    ],
    [
      'RFC 9111 §4.2.3: a Date in the future (skew) gives apparent age 0',
      { date: http(T + H) },
      [T, T, T + 5 * S],
      5 * S,
    ],
    ['RFC 9111 §5.1: an invalid Age is ignored (abc)', { age: 'abc' }, [T, T, T], 0],
    ['RFC 9111 §5.1: an invalid Age is ignored (-5)', { age: '-5' }, [T, T, T], 0],
    ['RFC 9111 §5.1: an invalid Age is ignored (1.5)', { age: '1.5' }, [T, T, T], 0],
    ['RFC 9111 §5.1: a list-based Age uses its first member', { age: '5, 100' }, [T, T, T], 5 * S],
    ['RFC 9111 §5.1: several Age lines use the first', { age: ['5', '100'] }, [T, T, T], 5 * S],
    ['RFC 9111 §5.1: a numeric Age value', { age: 7 }, [T, T, T], 7 * S],
    ['RFC 9111 §1.2.2: an Age above 2^31 is capped', { age: '9'.repeat(30) }, [T, T, T], MAX_MS],
    [
      'RFC 9111 §4.2.3: a clock stepped back does not make the response younger',
      { age: '10' },
      [T, T - 5 * S, T - 20 * S],
      10 * S,
    ],
    ['RFC 9111 §4.2.3: non-finite times read as the oldest age', {}, [T, Number.NaN, T], MAX_MS],
  ]

  test.each(cases)('%s', (_, headers, [requestTime, responseTime, now], expected) => {
    expect(currentAge({ headers, requestTime, responseTime, now })).toBe(expected)
  })
})

describe('requestAllows', () => {
  type Case = [string, HeaderRecord, StoredFreshness, ServeVerdict]
  const fresh = (cc = 'max-age=60', shared?: boolean): StoredFreshness => ({
    lifetimeMs: 60 * S,
    ageMs: 10 * S,
    responseCacheControl: cc,
    shared,
  })
  const stale = (cc = 'max-age=60', shared?: boolean): StoredFreshness => ({
    lifetimeMs: 60 * S,
    ageMs: 90 * S,
    responseCacheControl: cc,
    shared,
  })
  const ok = (isFresh: boolean): ServeVerdict => ({
    fresh: isFresh,
    servable: true,
    onlyIfCached: false,
  })
  const no = (isFresh: boolean, reason: ServeVerdict['reason']): ServeVerdict => ({
    fresh: isFresh,
    servable: false,
    onlyIfCached: false,
    reason,
  })
  const cases: Case[] = [
    ['RFC 9111 §4.2: fresh while lifetime > age', {}, fresh(), ok(true)],
    [
      'RFC 9111 §4.2: stale once age reaches the lifetime',
      {},
      { lifetimeMs: 60 * S, ageMs: 60 * S, responseCacheControl: undefined },
      no(false, 'stale'),
    ],
    ['RFC 9111 §4.2.4: stale without max-stale is refused', {}, stale(), no(false, 'stale')],
    [
      'RFC 9111 §5.2.1.4: request no-cache needs validation',
      { 'cache-control': 'no-cache' },
      fresh(),
      no(true, 'request-no-cache'),
    ],
    [
      'RFC 9111 §5.4: Pragma: no-cache without Cache-Control is no-cache',
      { pragma: 'No-Cache' },
      fresh(),
      no(true, 'request-no-cache'),
    ],
    [
      'RFC 9111 §5.4: Pragma is ignored when the request has Cache-Control',
      { pragma: 'no-cache', 'cache-control': 'max-age=60' },
      fresh(),
      ok(true),
    ],
    [
      'RFC 9111 §5.2.2.4: response no-cache needs validation even when fresh',
      {},
      fresh('no-cache, max-age=60'),
      no(true, 'response-no-cache'),
    ],
    [
      'RFC 9111 §5.2.2.4: qualified no-cache="set-cookie" allows a fresh reuse',
      {},
      fresh('no-cache="set-cookie", max-age=60'),
      ok(true),
    ],
    [
      'RFC 9111 §5.2.1.1: request max-age exceeded',
      { 'cache-control': 'max-age=5' },
      fresh(),
      no(true, 'request-max-age'),
    ],
    [
      'RFC 9111 §5.2.1.1: request max-age met (age ≤ n)',
      { 'cache-control': 'max-age=10' },
      fresh(),
      ok(true),
    ],
    [
      'RFC 9111 §5.2.1.1: an invalid request max-age reads as max-age=0',
      { 'cache-control': 'max-age=ten' },
      fresh(),
      no(true, 'request-max-age'),
    ],
    [
      'RFC 9111 §5.2.1.1: repeated request max-age: the strictest counts',
      { 'cache-control': 'max-age=30, max-age=5' },
      fresh(),
      no(true, 'request-max-age'),
    ],
    [
      'RFC 9111 §5.2.1.1: request max-age with max-stale still bounds the age',
      { 'cache-control': 'max-age=60, max-stale' },
      stale(),
      no(false, 'request-max-age'),
    ],
    ['RFC 9111 §5.2.1.3: min-fresh met', { 'cache-control': 'min-fresh=50' }, fresh(), ok(true)],
    [
      'RFC 9111 §5.2.1.3: min-fresh not met',
      { 'cache-control': 'min-fresh=51' },
      fresh(),
      no(true, 'request-min-fresh'),
    ],
    [
      'RFC 9111 §5.2.1.3: an invalid min-fresh reads as the strictest',
      { 'cache-control': 'min-fresh' },
      fresh(),
      no(true, 'request-min-fresh'),
    ],
    [
      'RFC 9111 §5.2.1.2: max-stale without a value accepts any staleness',
      { 'cache-control': 'max-stale' },
      { lifetimeMs: 0, ageMs: 1e9, responseCacheControl: 'public' },
      ok(false),
    ],
    [
      'RFC 9111 §5.2.1.2: max-stale=n accepts staleness up to n',
      { 'cache-control': 'max-stale=30' },
      stale(),
      ok(false),
    ],
    [
      'RFC 9111 §5.2.1.2: max-stale=n refuses staleness beyond n',
      { 'cache-control': 'max-stale=29' },
      stale(),
      no(false, 'max-stale'),
    ],
    [
      'RFC 9111 §5.2.1.2: an invalid max-stale accepts no staleness',
      { 'cache-control': 'max-stale=lots' },
      stale(),
      no(false, 'max-stale'),
    ],
    [
      'RFC 9111 §5.2.2.2: must-revalidate forbids serving stale under max-stale',
      { 'cache-control': 'max-stale' },
      stale('max-age=60, must-revalidate'),
      no(false, 'must-revalidate'),
    ],
    [
      'RFC 9111 §5.2.2.8: proxy-revalidate forbids stale in a shared cache',
      { 'cache-control': 'max-stale' },
      stale('max-age=60, proxy-revalidate'),
      no(false, 'must-revalidate'),
    ],
    [
      'RFC 9111 §5.2.2.8: proxy-revalidate does not apply to a private cache',
      { 'cache-control': 'max-stale' },
      stale('max-age=60, proxy-revalidate', false),
      ok(false),
    ],
    [
      'RFC 9111 §5.2.2.10: s-maxage implies proxy-revalidate in a shared cache',
      { 'cache-control': 'max-stale' },
      stale('s-maxage=60'),
      no(false, 'must-revalidate'),
    ],
    [
      'RFC 9111 §5.2.2.10: s-maxage does not apply to a private cache',
      { 'cache-control': 'max-stale' },
      stale('max-age=60, s-maxage=60', false),
      ok(false),
    ],
    [
      'RFC 9111 §4.2.4: a qualified no-cache forbids serving stale too',
      { 'cache-control': 'max-stale' },
      stale('no-cache="x-user", max-age=60'),
      no(false, 'must-revalidate'),
    ],
    [
      'RFC 9111 §5.2.1.7: only-if-cached is reported on a servable response',
      { 'cache-control': 'only-if-cached' },
      fresh(),
      { fresh: true, servable: true, onlyIfCached: true },
    ],
    [
      'RFC 9111 §5.2.1.7: only-if-cached on a stale response: the caller answers 504',
      { 'cache-control': 'only-if-cached' },
      stale(),
      { fresh: false, servable: false, onlyIfCached: true, reason: 'stale' },
    ],
    [
      'RFC 9111 §4.2: a NaN age is read as unbounded: stale',
      {},
      { lifetimeMs: 60 * S, ageMs: Number.NaN, responseCacheControl: undefined },
      no(false, 'stale'),
    ],
  ]

  test.each(cases)('%s', (_, headers, stored, expected) => {
    expect(requestAllows(headers, stored)).toEqual(expected)
  })

  test('the response Cache-Control may be given parsed', () => {
    const responseCacheControl = parseCacheControl('max-age=60, must-revalidate')
    expect(
      requestAllows(
        { 'cache-control': 'max-stale' },
        { lifetimeMs: 60 * S, ageMs: 90 * S, responseCacheControl },
      ),
    ).toEqual(no(false, 'must-revalidate'))
  })

  // kornelski/http-cache-semantics#56: max-stale let a must-revalidate response be served stale.
  test('RFC 9111 §5.2.2.2: no max-stale form serves a stale must-revalidate response', () => {
    for (const directive of ['max-stale', 'max-stale=0', 'max-stale=999999', 'MAX-STALE="5"']) {
      for (const cc of [
        'must-revalidate, max-age=1',
        'max-age=1, Must-Revalidate',
        'must-revalidate',
      ]) {
        const verdict = requestAllows(
          { 'cache-control': directive },
          { lifetimeMs: 1 * S, ageMs: 2 * S, responseCacheControl: cc, shared: false },
        )
        expect(verdict).toEqual(no(false, 'must-revalidate'))
      }
    }
  })
})

describe('parseHttpDate', () => {
  const cases: [string, string, number | undefined][] = [
    ['RFC 9110 §5.6.7: IMF-fixdate', DATE, T],
    ['RFC 9110 §5.6.7: RFC 850 date', 'Sunday, 06-Nov-94 08:49:37 GMT', T],
    ['RFC 9110 §5.6.7: asctime date, space-padded day', 'Sun Nov  6 08:49:37 1994', T],
    ['RFC 9110 §5.6.7: asctime date, two-digit day', 'Sun Nov 06 08:49:37 1994', T],
    ['RFC 9111 §4.2: matched case-insensitively', 'SUN, 06 NOV 1994 08:49:37 gmt', T],
    ['RFC 9110 §5.5: surrounding whitespace is not part of the value', ` \t${DATE} `, T],
    [
      'RFC 9110 §5.6.7: a leap second reads as :59 (RFC 9111 §4.2: round down)',
      'Sat, 31 Dec 2016 23:59:60 GMT',
      Date.UTC(2016, 11, 31, 23, 59, 59),
    ],
    [
      'RFC 9110 §5.6.7: a year below 100 is not read as 19xx',
      'Mon, 01 Jan 0001 00:00:00 GMT',
      -62135596800000,
    ],
    [
      'RFC 9110 §5.6.7: 29 Feb of a leap year',
      'Sat, 29 Feb 2020 00:00:00 GMT',
      Date.UTC(2020, 1, 29),
    ],
    ['RFC 9110 §5.6.7: "0" is not a date', '0', undefined],
    ['RFC 9110 §5.6.7: "2020" is not a date', '2020', undefined],
    ['RFC 9110 §5.6.7: "-1" is not a date', '-1', undefined],
    ['RFC 9110 §5.6.7: empty is not a date', '', undefined],
    ['RFC 9110 §5.6.7: ISO 8601 is not an HTTP-date', '1994-11-06T08:49:37Z', undefined],
    ['RFC 9111 §4.2: a zone other than GMT is invalid', 'Sun, 06 Nov 1994 08:49:37 UTC', undefined],
    ['RFC 9110 §5.6.7: a numeric zone is invalid', 'Sun, 06 Nov 1994 08:49:37 +0000', undefined],
    [
      'RFC 9110 §5.6.7: IMF-fixdate needs a two-digit day',
      'Sun, 6 Nov 1994 08:49:37 GMT',
      undefined,
    ],
    [
      'RFC 9110 §5.6.7: IMF-fixdate needs a four-digit year',
      'Sun, 06 Nov 94 08:49:37 GMT',
      undefined,
    ],
    [
      'RFC 9110 §5.6.7: the comma after the day name is required',
      'Sun 06 Nov 1994 08:49:37 GMT',
      undefined,
    ],
    ['RFC 9110 §5.6.7: 31 Feb does not exist', 'Thu, 31 Feb 1994 08:49:37 GMT', undefined],
    [
      'RFC 9110 §5.6.7: 29 Feb of a common year does not exist',
      'Tue, 29 Feb 2022 00:00:00 GMT',
      undefined,
    ],
    ['RFC 9110 §5.6.7: day 00 does not exist', 'Sun, 00 Nov 1994 08:49:37 GMT', undefined],
    ['RFC 9110 §5.6.7: hour 24 does not exist', 'Sun, 06 Nov 1994 24:00:00 GMT', undefined],
    ['RFC 9110 §5.6.7: minute 60 does not exist', 'Sun, 06 Nov 1994 08:60:00 GMT', undefined],
    ['RFC 9110 §5.6.7: second 61 does not exist', 'Sun, 06 Nov 1994 08:49:61 GMT', undefined],
    ['RFC 9110 §5.6.7: an unknown month', 'Sun, 06 Nox 1994 08:49:37 GMT', undefined],
    ['RFC 9110 §5.6.7: RFC 850 needs the long day name', 'Sun, 06-Nov-94 08:49:37 GMT', undefined],
    ['RFC 9110 §5.6.7: trailing text', `${DATE} x`, undefined],
  ]

  test.each(cases)('%s', (_, value, expected) => {
    expect(parseHttpDate(value, T)).toBe(expected)
  })

  test.each([
    ['94 in 2025 is 1994', '94', Date.UTC(2025, 0, 1), 1994],
    ['25 in 2025 is 2025', '25', Date.UTC(2025, 0, 1), 2025],
    ['75 in 2025 is 2075 (not more than 50 years ahead)', '75', Date.UTC(2025, 0, 1), 2075],
    ['76 in 2025 is 1976', '76', Date.UTC(2025, 0, 1), 1976],
    ['10 in 2090 is 2110', '10', Date.UTC(2090, 0, 1), 2110],
  ])('RFC 9110 §5.6.7: RFC 850 two-digit year: %s', (_, yy, now, year) => {
    const parsed = parseHttpDate(`Thursday, 01-Jan-${yy} 00:00:00 GMT`, now)
    expect(parsed).toBe(Date.UTC(year, 0, 1))
  })
})

describe('properties', () => {
  const garbage = fc.string({
    unit: fc.oneof(
      fc.constantFrom('"', '\\', ',', '=', ' ', '-', '0', '9', 'max-age', 's-maxage', 'public'),
      fc.constantFrom('GMT', 'Sun', 'Nov', ':', 'must-revalidate', 'max-stale', 'no-cache'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
    maxLength: 40,
  })
  const dateMs = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) })
  const httpDate = dateMs.map(http)
  const value = fc.oneof(
    garbage,
    httpDate,
    fc.array(fc.oneof(garbage, httpDate), { maxLength: 3 }),
    fc.integer(),
    fc.constant(undefined),
  )
  const headers = fc.record(
    {
      'cache-control': value,
      expires: value,
      date: value,
      age: value,
      'last-modified': value,
    },
    { requiredKeys: [] },
  )

  test('freshnessLifetime never throws and stays an integer in [0, 2^31 s]', () => {
    fc.assert(
      fc.property(
        headers,
        fc.integer({ min: 100, max: 599 }),
        fc.boolean(),
        dateMs,
        (h, status, shared, responseTime) => {
          const { lifetimeMs } = freshnessLifetime({ status, headers: h }, { shared, responseTime })
          expect(Number.isInteger(lifetimeMs)).toBe(true)
          expect(lifetimeMs).toBeGreaterThanOrEqual(0)
          expect(lifetimeMs).toBeLessThanOrEqual(MAX_MS)
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('currentAge never throws and stays finite and ≥ 0', () => {
    fc.assert(
      fc.property(headers, dateMs, dateMs, dateMs, (h, requestTime, responseTime, now) => {
        const age = currentAge({ headers: h, requestTime, responseTime, now })
        expect(Number.isFinite(age)).toBe(true)
        expect(age).toBeGreaterThanOrEqual(0)
      }),
      { numRuns: 2000 },
    )
  })

  test('parseHttpDate never throws; it returns undefined or a whole second', () => {
    fc.assert(
      fc.property(fc.oneof(garbage, httpDate, fc.string()), (v) => {
        const parsed = parseHttpDate(v)
        if (parsed !== undefined) expect(Number.isInteger(parsed / 1000)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  test('parseHttpDate reads back every IMF-fixdate', () => {
    fc.assert(
      fc.property(dateMs, (ms) => {
        expect(parseHttpDate(http(ms))).toBe(Math.floor(ms / 1000) * 1000)
      }),
    )
  })

  test('requestAllows never serves a stale response that forbids it', () => {
    fc.assert(
      fc.property(
        headers,
        garbage,
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        (h, cc, lifetimeMs, ageMs, shared) => {
          const verdict = requestAllows(h, { lifetimeMs, ageMs, responseCacheControl: cc, shared })
          const response = parseCacheControl(cc)
          if (!verdict.fresh && (response.has('must-revalidate') || response.has('no-cache'))) {
            expect(verdict.servable).toBe(false)
          }
          if (verdict.servable && !verdict.fresh) {
            expect(parseCacheControl(h['cache-control']).has('max-stale')).toBe(true)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})
