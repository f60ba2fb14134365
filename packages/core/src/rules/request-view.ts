import type { IncomingHttpHeaders } from 'node:http'
import { normalizeHeaderValue, parseQuery } from './key'
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

/** More query parameters than the frameworks' parsers read (qs and node:querystring stop at 1000). */
export const MAX_QUERY_PARAMS = 1000

/** The request headers a fill's route of this rule may see. */
export function viewHeaders(
  keyed: readonly string[],
  passed: readonly string[],
  credentials: boolean,
): ReadonlySet<string> {
  const names = new Set([...TRANSPORT_HEADERS, ...keyed, ...passed])
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

/** Replaces every line of `name` in a raw header list by one line of `value`. */
function replaceRawHeader(rawHeaders: string[], name: string, value: string): void {
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
  rawHeaders.push(first === '' ? name : first, value)
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
