import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { type ResponseBypassReason, responseBypassReason } from '../../src/http/storable'
import { type RequestBypassReason, requestBypassReason } from '../../src/rules/request-filter'
import type { CacheRule } from '../../src/rules/types'
import { cacheRule } from '../support'

/** Several lines of one header, as `res.setHeader(name, [...])` leaves them. */
const lines = (name: string, ...values: string[]) =>
  ({ [name]: values }) as unknown as OutgoingHttpHeaders

interface ResponseCase {
  name: string
  rule?: Partial<CacheRule>
  status?: number
  headers?: OutgoingHttpHeaders
  expected: ResponseBypassReason | undefined
}

const responses: ResponseCase[] = [
  { name: 'a plain 200', expected: undefined },
  { name: '404 not in the rule statuses', status: 404, expected: 'status' },
  {
    name: '404 in the rule statuses',
    rule: { statuses: [200, 404] },
    status: 404,
    expected: undefined,
  },
  { name: '500', status: 500, expected: 'status' },
  {
    name: '503 with a rule of many statuses',
    rule: { statuses: [200, 404, 410] },
    status: 503,
    expected: 'status',
  },
  { name: '206 partial content', status: 206, expected: 'status' },
  { name: '304', status: 304, expected: 'status' },
  { name: 'set-cookie', headers: { 'set-cookie': ['a=1'] }, expected: 'set-cookie' },
  {
    name: 'set-cookie on a per-user rule',
    rule: { perUser: true },
    headers: { 'set-cookie': 'a=1' },
    expected: 'set-cookie',
  },
  { name: 'no-store', headers: { 'cache-control': 'no-store' }, expected: 'no-store' },
  {
    name: 'No-Store among others',
    headers: { 'cache-control': 'public, max-age=60, No-Store' },
    expected: 'no-store',
  },
  {
    name: 'no-store in a second header line',
    headers: lines('cache-control', 'public', 'no-store'),
    expected: 'no-store',
  },
  {
    name: 'private on a shared rule',
    headers: { 'cache-control': 'private, max-age=60' },
    expected: 'private',
  },
  {
    name: 'RFC 9111 §5.2.2.7: private with field names on a shared rule is stored (without them)',
    headers: { 'cache-control': 'private="x-user"' },
    expected: undefined,
  },
  {
    name: 'RFC 9111 §5.2.2.7: private with an empty field list counts as unqualified',
    headers: { 'cache-control': 'private=""' },
    expected: 'private',
  },
  {
    name: 'RFC 9111 §5.2.2.4: no-cache with an empty field list counts as unqualified',
    headers: { 'cache-control': 'no-cache=", "' },
    expected: 'no-cache',
  },
  {
    name: 'RFC 9111 §5.2.2.4: no-cache="Set-Cookie" lets the rest be stored without the cookie',
    headers: { 'cache-control': 'no-cache="Set-Cookie"', 'set-cookie': ['a=1'] },
    expected: undefined,
  },
  {
    name: 'RFC 9111 §5.2.2.7: private="set-cookie" likewise',
    headers: { 'cache-control': 'max-age=60, private="set-cookie"', 'set-cookie': 'a=1' },
    expected: undefined,
  },
  {
    name: 'no-cache naming another field does not excuse Set-Cookie',
    headers: { 'cache-control': 'no-cache="x-other"', 'set-cookie': 'a=1' },
    expected: 'set-cookie',
  },
  {
    name: 'a header block past 16 KiB (header oversize)',
    headers: { 'x-big': 'a'.repeat(16 * 1024) },
    expected: 'header-size',
  },
  {
    name: 'a header block just under 16 KiB',
    headers: { 'x-big': 'a'.repeat(16 * 1024 - 20) },
    expected: undefined,
  },
  {
    name: 'private on a per-user rule is stored',
    rule: { perUser: true },
    headers: { 'cache-control': 'private' },
    expected: undefined,
  },
  {
    name: 'private and no-store on a per-user rule',
    rule: { perUser: true },
    headers: { 'cache-control': 'private, no-store' },
    expected: 'no-store',
  },
  { name: 'no-cache', headers: { 'cache-control': 'no-cache' }, expected: 'no-cache' },
  {
    name: 'max-age=0 (the rule ttl decides freshness)',
    headers: { 'cache-control': 'max-age=0' },
    expected: undefined,
  },
  { name: 'Vary: *', headers: { vary: '*' }, expected: 'vary' },
  {
    name: 'Vary on a header not in the key',
    headers: { vary: 'Accept-Encoding' },
    expected: 'vary',
  },
  {
    name: 'Vary on a keyed header',
    rule: { key: { headers: ['Accept-Language'] } },
    headers: { vary: 'accept-language' },
    expected: undefined,
  },
  {
    name: 'Vary on a keyed header, any case',
    rule: { key: { headers: ['accept-language'] } },
    headers: { vary: 'Accept-Language' },
    expected: undefined,
  },
  {
    name: 'Vary on a keyed and an unkeyed header',
    rule: { key: { headers: ['accept-language'] } },
    headers: { vary: 'Accept-Language, Accept-Encoding' },
    expected: 'vary',
  },
  {
    name: 'Vary: * with keyed headers',
    rule: { key: { headers: ['accept-language'] } },
    headers: { vary: 'accept-language, *' },
    expected: 'vary',
  },
  {
    name: 'Vary as several lines',
    rule: { key: { headers: ['accept-language'] } },
    headers: lines('vary', 'accept-language', 'cookie'),
    expected: 'vary',
  },
  { name: 'an empty Vary', headers: { vary: '' }, expected: undefined },
  {
    name: 'content-length over the cap',
    rule: { maxBodySize: 1000 },
    headers: { 'content-length': '1001' },
    expected: 'too-large',
  },
  {
    name: 'content-length at the cap',
    rule: { maxBodySize: 1000 },
    headers: { 'content-length': '1000' },
    expected: undefined,
  },
  {
    name: 'numeric content-length over the cap',
    rule: { maxBodySize: 1000 },
    headers: { 'content-length': 5000 },
    expected: 'too-large',
  },
  {
    name: 'status is checked first',
    status: 500,
    headers: { 'set-cookie': 'a', 'cache-control': 'no-store' },
    expected: 'status',
  },
  {
    name: 'set-cookie before cache-control',
    headers: { 'set-cookie': 'a', 'cache-control': 'no-store' },
    expected: 'set-cookie',
  },
]

describe('responseBypassReason', () => {
  test.each(responses)('$name → $expected', ({ rule, status, headers, expected }) => {
    expect(responseBypassReason(cacheRule(rule), status ?? 200, headers ?? {})).toBe(expected)
  })

  test('a 5xx is never stored, even by a rule object that lists it', () => {
    const rule = { ...cacheRule(), statuses: new Set([200, 500, 503]) }
    expect(responseBypassReason(rule, 500, {})).toBe('status')
    expect(responseBypassReason(rule, 503, {})).toBe('status')
  })
})

interface RequestCase {
  name: string
  rule?: Partial<CacheRule>
  headers?: IncomingHttpHeaders
  user?: string
  expected: RequestBypassReason | undefined
}

const requests: RequestCase[] = [
  { name: 'a plain GET', expected: undefined },
  { name: 'Authorization', headers: { authorization: 'Bearer x' }, expected: 'credentials' },
  { name: 'Cookie', headers: { cookie: 'sid=1' }, expected: 'credentials' },
  {
    name: 'an empty Cookie header is still credentials',
    headers: { cookie: '' },
    expected: 'credentials',
  },
  {
    name: 'Cookie with allowCredentials',
    rule: { allowCredentials: true },
    headers: { cookie: 'sid=1' },
    expected: undefined,
  },
  { name: 'a user on a shared rule changes nothing', user: 'alice', expected: undefined },
  {
    name: 'per-user rule with a user',
    rule: { perUser: true },
    user: 'alice',
    headers: { cookie: 'sid=1' },
    expected: undefined,
  },
  {
    name: 'per-user rule without a user',
    rule: { perUser: true },
    headers: { cookie: 'sid=1' },
    expected: 'no-user',
  },
  {
    name: 'per-user rule with an empty user',
    rule: { perUser: true },
    user: '',
    expected: 'no-user',
  },
  {
    name: 'a body by content-length',
    headers: { 'content-length': '5' },
    expected: 'request-body',
  },
  { name: 'content-length 0 is no body', headers: { 'content-length': '0' }, expected: undefined },
  {
    name: 'a body by transfer-encoding',
    headers: { 'transfer-encoding': 'chunked' },
    expected: 'request-body',
  },
  {
    name: 'client Cache-Control: no-store',
    headers: { 'cache-control': 'no-store' },
    expected: 'request-no-store',
  },
  {
    name: 'client Cache-Control: No-Store, max-age=0',
    headers: { 'cache-control': 'max-age=0, No-Store' },
    expected: 'request-no-store',
  },
  {
    name: 'client Cache-Control: no-cache does not bypass',
    headers: { 'cache-control': 'no-cache' },
    expected: undefined,
  },
  {
    name: 'client Cache-Control: max-age=0 does not bypass',
    headers: { 'cache-control': 'max-age=0' },
    expected: undefined,
  },
  {
    name: 'client Pragma: no-cache does not bypass',
    headers: { pragma: 'no-cache' },
    expected: undefined,
  },
  {
    name: 'credentials are checked before the body',
    headers: { cookie: 'a', 'content-length': '3' },
    expected: 'credentials',
  },
  {
    name: 'the body is checked before no-store',
    headers: { 'content-length': '3', 'cache-control': 'no-store' },
    expected: 'request-body',
  },
]

describe('requestBypassReason', () => {
  test.each(requests)('$name → $expected', ({ rule, headers, user, expected }) => {
    expect(requestBypassReason(cacheRule(rule), headers ?? {}, user)).toBe(expected)
  })
})
