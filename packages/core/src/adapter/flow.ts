import { performance } from 'node:perf_hooks'
import type { CacheEngine, Lookup } from '../engine/engine'
import { type Exchange, ruleNeedsUser, splitUrl, tenantOf } from '../engine/exchange'
import type { Fill } from '../engine/fill'
import { isInternalRequest } from '../engine/internal-request'
import { type Replay, replay } from '../engine/replay'
import { originTimedOut } from '../engine/slow-origin'
import {
  bypassOutcome,
  ONLY_IF_CACHED_UNAVAILABLE,
  WRITE_INVALIDATION_FAILED,
} from '../engine/status-headers'
import { narrowRequest } from '../rules/request-view'
import type { CompiledCacheRule, CompiledWriteRule, RuleMatch } from '../rules/types'
import type { HeldWrite, MissView, RequestPort } from './port'
import { conditionalsOf, refreshInBackground, routeConditionals } from './route-view'
import { watchSlowOrigin } from './slow-origin'

/** The only-if-cached 504, as a response an adapter writes. */
const UNAVAILABLE: Replay = {
  status: ONLY_IF_CACHED_UNAVAILABLE.status,
  headers: [...ONLY_IF_CACHED_UNAVAILABLE.headers],
  body: Buffer.from(ONLY_IF_CACHED_UNAVAILABLE.body),
}

/** A background refresh found nothing to do (another process refreshed, or the copy went). */
const NOTHING_TO_REFRESH: Replay = { status: 204, headers: [], body: undefined }

const FAILED_WRITE: Replay = {
  status: WRITE_INVALIDATION_FAILED.status,
  headers: ['content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store'],
  body: Buffer.from(WRITE_INVALIDATION_FAILED.body),
}

/**
 * The request flow every adapter runs: match → key → lookup → hit, stale,
 * bypass or miss; for a miss, what the route may see; for a write rule, the
 * hold; for the cache's own background refresh, the fill. The adapter's
 * `port` carries out each decision. Requests no rule matches cost a URL
 * split and a map lookup.
 */
export function handleRequest<R>(engine: CacheEngine, port: RequestPort<R>): R | Promise<R> {
  const { method } = port
  const { path, rawQuery } = splitUrl(port.url)
  const m = engine.match(method, path)
  if (m === undefined) return port.next()
  const ex: Exchange = {
    method,
    path,
    rawQuery,
    headers: port.headers,
    user: ruleNeedsUser(m.rule) ? port.identify() : undefined,
    tenant: tenantOf(m.rule, port.req),
  }
  if (m.rule.kind === 'invalidate') return port.hold(heldWrite(engine, m as WriteMatch, ex))
  const match = m as RuleMatch<CompiledCacheRule>
  if (isInternalRequest(port.req)) {
    const found = engine.revalidate(match, ex)
    if (found instanceof Promise)
      return found.then(
        (f) => refill(port, ex, f),
        (err) => port.fail(err),
      )
    return refill(port, ex, found)
  }
  const started = performance.now()
  const found = engine.lookup(match, ex)
  if (found instanceof Promise) {
    return found.then(
      (l) => respond(engine, port, match.rule, ex, l, started),
      (err) => port.fail(err),
    )
  }
  return respond(engine, port, match.rule, ex, found, started)
}

type WriteMatch = RuleMatch<CompiledWriteRule>

function heldWrite(engine: CacheEngine, m: WriteMatch, ex: Exchange): HeldWrite {
  return {
    holds: (status) => status >= 200 && status <= 299,
    invalidate: (response) => engine.invalidateAfterWrite(m, ex, response),
    failure: FAILED_WRITE,
  }
}

function respond<R>(
  engine: CacheEngine,
  port: RequestPort<R>,
  rule: CompiledCacheRule,
  ex: Exchange,
  lookup: Lookup,
  started: number,
): R {
  switch (lookup.type) {
    case 'hit':
    case 'stale': {
      const stale = lookup.type === 'stale' ? { reason: lookup.reason } : undefined
      const head = port.method === 'HEAD'
      const r = port.send(replay(lookup.entry, Date.now(), ex.headers, head, stale, rule))
      engine.observe(rule, 'hit', (performance.now() - started) / 1000)
      if (lookup.refresh !== undefined) {
        const listener = port.listener()
        refreshInBackground(engine, lookup.refresh, rule.name, listener, port.req, port.url)
      }
      return r
    }
    case 'bypass':
      return port.pass(bypassOutcome(lookup.reason))
    case 'unavailable':
      return port.send(UNAVAILABLE)
    case 'timeout':
      return port.send(originTimedOut(lookup.status))
    case 'miss':
      port.res.once('finish', () =>
        engine.observe(rule, 'miss', (performance.now() - started) / 1000),
      )
      return forward(port, ex, lookup.fill)
  }
}

/** The cache's own background refresh of a stale entry: fill it, or answer 204. */
function refill<R>(port: RequestPort<R>, ex: Exchange, fill: Fill | undefined): R {
  return fill === undefined ? port.send(NOTHING_TO_REFRESH) : forward(port, ex, fill)
}

/**
 * Sends a miss to the route, which sees only what the key holds: the headers
 * the rule keys or passes, the keyed query parameters, and (origin-driven,
 * with a stored copy past its freshness) the copy's validators in place of
 * the client's conditional fields.
 */
function forward<R>(port: RequestPort<R>, ex: Exchange, fill: Fill): R {
  const conditionals = conditionalsOf(port.headers)
  fill.setOuterHeaders(port.res.getHeaders())
  const query = narrowRequest(fill.rule, ex.rawQuery, port.headers, port.req.rawHeaders)
  routeConditionals(fill, port.headers)
  const view: MissView = {
    conditionals,
    query,
    asGet: port.method === 'HEAD' && fill.rule.methods.has('GET'),
  }
  if (fill.rule.originTimeout !== undefined)
    watchSlowOrigin(port.res, fill, port.method === 'HEAD', conditionals)
  return port.forward(fill, view)
}
