import type { IncomingHttpHeaders } from 'node:http'
import { CachetConfigError, describeValue } from '../errors'
import { normalizeHeaderValue, parseQuery, proxyHeaderValue } from './key'
import type { CompiledCacheRule } from './types'

/**
 * The key view equals the app view: on a fill, the route sees only what the
 * key holds, so an input left out of the key can never shape a stored
 * response (the web cache poisoning of an unkeyed header or parameter).
 *
 * Headers a fill's route sees whatever the rule says: the connection's own.
 * None of them chooses a representation by itself (`Accept-Encoding` does,
 * through a compression middleware, and that middleware says so with
 * `Vary: Accept-Encoding`, which a rule that does not key it refuses to store).
 */
export const TRANSPORT_HEADERS: readonly string[] = [
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'accept-encoding',
]

/**
 * Headers with which a proxy tells the app what URL the client asked for.
 * Apps build links and redirects from them (Express's `req.protocol` and
 * `req.host` with `trust proxy`), so they are neither stripped (the stored
 * links would be the app's own, wrong for a client behind the proxy) nor
 * passed unkeyed (one client's value would be served to every other): a
 * request carrying one is bypassed, unless the rule keys it or passes it.
 */
export const FORWARDING_HEADERS: readonly string[] = [
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

/** Headers with which a client asks a framework to run the request as another method. */
export const METHOD_OVERRIDE_HEADERS: readonly string[] = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]

/**
 * Headers with which a proxy tells the app the client's address. Behind a
 * trusted proxy the ones it sets reach the route of a miss unkeyed: they are
 * one per client (keying them would give every client its own entry), and a
 * route that puts the client's address in a shared response must not be cached.
 */
export const CLIENT_ADDRESS_HEADERS: readonly string[] = [
  'x-forwarded-for',
  'x-real-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
]

/**
 * The headers a reverse proxy sets (nginx, HAProxy, AWS ALB, Heroku, Kubernetes
 * ingresses): the default of `proxy.headers`. Those that can change a
 * representation (protocol, host, port, path prefix; `Forwarded` without its
 * `for=`) are keyed, the client's address is passed.
 */
export const DEFAULT_PROXY_HEADERS: readonly string[] = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-proto',
  'x-real-ip',
]

/** What a trusted proxy adds to every cache rule: forwarding headers keyed, and passed unkeyed. */
export interface ProxyView {
  readonly keyed: readonly string[]
  readonly passed: readonly string[]
}

/** No proxy, or one that is not trusted: every forwarding header is bypassed, as by default. */
export const NO_PROXY: ProxyView = { keyed: [], passed: [] }

const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Validates the `proxy` option: `{ trusted, headers? }`. */
export function resolveProxy(value: unknown): ProxyView {
  const fail = (option: string, problem: string): never => {
    throw new CachetConfigError('CACHET_INVALID_OPTION', `option "${option}": ${problem}`)
  }
  if (value === undefined) return NO_PROXY
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('proxy', `expected an object { trusted, headers? }, got ${describeValue(value)}`)
  }
  const { trusted, headers, ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) {
    fail(`proxy.${unknown}`, 'unknown option (expected one of trusted, headers)')
  }
  if (trusted !== undefined && typeof trusted !== 'boolean') {
    fail('proxy.trusted', `expected true or false, got ${describeValue(trusted)}`)
  }
  if (trusted !== true) {
    if (headers !== undefined) {
      fail('proxy.headers', 'names the headers of a trusted proxy: add trusted: true')
    }
    return NO_PROXY
  }
  if (headers === undefined) return proxyView(DEFAULT_PROXY_HEADERS)
  if (!Array.isArray(headers)) {
    fail('proxy.headers', `expected an array of header names, got ${describeValue(headers)}`)
  }
  const names = new Set<string>()
  for (const h of headers as unknown[]) {
    if (typeof h !== 'string' || !HEADER_TOKEN.test(h)) {
      fail('proxy.headers', `${describeValue(h)} is not a header name`)
    }
    const name = (h as string).toLowerCase()
    if (
      TRANSPORT_HEADERS.includes(name) ||
      METHOD_OVERRIDE_HEADERS.includes(name) ||
      name === 'cookie' ||
      name === 'authorization'
    ) {
      fail(
        'proxy.headers',
        `"${name}" is not a forwarding header (expected the headers the proxy sets, such as ${DEFAULT_PROXY_HEADERS.join(', ')})`,
      )
    }
    names.add(name)
  }
  return proxyView([...names])
}

function proxyView(names: readonly string[]): ProxyView {
  return {
    keyed: names.filter((n) => !CLIENT_ADDRESS_HEADERS.includes(n)).sort(),
    passed: names.filter((n) => CLIENT_ADDRESS_HEADERS.includes(n)).sort(),
  }
}

/**
 * What a miss's route is given of a `Cookie` header: the cookies `ignores`
 * does not name, in their order (`''`: none is left). The header itself when
 * it holds no ignored cookie (an empty `Cookie` stays what it was: a
 * credentials header). Pairs are split at `;` as the frameworks' parsers
 * split them; a part without `=` is kept (it is no name this list ignores).
 */
export function keptCookies(
  ignores: (name: string) => boolean,
  header: string | readonly string[],
): string {
  const text = typeof header === 'string' ? header : header.join('; ')
  let kept = ''
  let removed = false
  for (const part of text.split(';')) {
    const cookie = part.trim()
    if (cookie === '') continue
    const eq = cookie.indexOf('=')
    if (eq !== -1 && ignores(cookie.slice(0, eq).trim())) {
      removed = true
      continue
    }
    kept = kept === '' ? cookie : `${kept}; ${cookie}`
  }
  return removed ? kept : text
}

/** Whether a `Cookie` header holds ignored cookies and nothing else: then the request is cookieless. */
export function onlyIgnoredCookies(
  ignores: (name: string) => boolean,
  header: string | readonly string[],
): boolean {
  return header.length > 0 && keptCookies(ignores, header) === ''
}

/** More query parameters than the frameworks' parsers read (qs and node:querystring stop at 1000). */
export const MAX_QUERY_PARAMS = 1000

/** The request headers a fill's route of this rule may see. */
export function viewHeaders(
  keyed: readonly string[],
  passed: readonly string[],
  credentials: boolean,
  proxy: ProxyView = NO_PROXY,
): ReadonlySet<string> {
  const names = new Set([
    ...TRANSPORT_HEADERS,
    ...keyed,
    ...passed,
    ...proxy.keyed,
    ...proxy.passed,
  ])
  if (credentials) {
    // A per-user rule keys by the verified user, whom the route needs to know;
    // `allowCredentials` is the app's word that the response never depends on them.
    names.add('authorization')
    names.add('cookie')
  }
  return names
}

/**
 * The raw query a fill's route sees: only the parameters the key holds, in
 * their order and spelling; `undefined` when that is the query as received.
 * A parameter is kept when its decoded name is one the key lists, exactly:
 * `lang[0]=fr` (qs reads it as `lang`) is not `lang` and goes.
 */
export function viewQuery(
  spec: CompiledCacheRule['key']['query'],
  rawQuery: string,
): string | undefined {
  if (rawQuery === '' || spec === 'all') return undefined
  if (spec === 'none') return ''
  const parts = rawQuery.split('&')
  const kept = parts.filter((part) => {
    const first = parseQuery(part).keys().next()
    return !first.done && spec.includes(first.value)
  })
  return kept.length === parts.length ? undefined : kept.join('&')
}

/** Replaces every line of `name` in a raw header list by one line of `value` (none: removes them). */
function replaceRawHeader(rawHeaders: string[], name: string, value: string | undefined): void {
  let j = 0
  let first = ''
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i] as string
    if (raw.toLowerCase() === name) {
      if (first === '') first = raw
      continue
    }
    rawHeaders[j++] = raw
    rawHeaders[j++] = rawHeaders[i + 1] as string
  }
  rawHeaders.length = j
  if (value !== undefined) rawHeaders.push(first === '' ? name : first, value)
}

/**
 * Narrows what a fill's route sees to the key's view: removes every request
 * header the rule neither keys nor passes (from `headers` and from
 * `rawHeaders`, in place), and returns the raw query to give the route
 * (`undefined`: unchanged).
 */
export function narrowRequest(
  rule: CompiledCacheRule,
  rawQuery: string,
  headers: IncomingHttpHeaders,
  rawHeaders?: string[],
): string | undefined {
  const keep = rule.viewHeaders
  let dropped = false
  for (const name of Object.keys(headers)) {
    if (!keep.has(name)) {
      delete headers[name]
      dropped = true
    }
  }
  // A keyed header as the key holds it (see normalizeHeaderValue): one variant, one view.
  for (const name of rule.key.headers) {
    const value = headers[name]
    if (value === undefined) continue
    const normal = normalizeHeaderValue(value)
    if (normal === value) continue
    headers[name] = normal
    if (rawHeaders !== undefined) {
      replaceRawHeader(rawHeaders, name, normal)
    }
  }
  // The forwarding headers of a trusted proxy, as the key holds them (Forwarded with its for=).
  for (const name of rule.proxyKey) {
    const value = headers[name]
    if (value === undefined) continue
    const normal = proxyHeaderValue(name, value, true)
    if (normal === value) continue
    headers[name] = normal
    if (rawHeaders !== undefined) replaceRawHeader(rawHeaders, name, normal)
  }
  // Cookies that never change a response are not the route's to see (ignoreCookies).
  const cookie = headers.cookie
  if (cookie !== undefined) {
    const kept = keptCookies(rule.ignoresCookie, cookie)
    if (kept !== cookie) {
      if (kept === '') delete headers.cookie
      else headers.cookie = kept
      if (rawHeaders !== undefined) replaceRawHeader(rawHeaders, 'cookie', kept || undefined)
    }
  }
  if (dropped && rawHeaders !== undefined) {
    let j = 0
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] as string
      if (!keep.has(name.toLowerCase())) continue
      rawHeaders[j++] = name
      rawHeaders[j++] = rawHeaders[i + 1] as string
    }
    rawHeaders.length = j
  }
  return viewQuery(rule.key.query, rawQuery)
}
