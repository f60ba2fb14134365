import { debuglog } from 'node:util'
import { purgePlan } from '../../cdn/purge-plan'
import type { NormalizedTarget } from '../../invalidation/target'
import type { InvalidationRecord } from '../../observe/events'
import type { InvalidationFailureMode } from '../../options/cache-options'
import { parseQuery } from '../../rules/key'
import type { TemplateVars } from '../../rules/template'
import type { CompiledWriteRule, RuleMatch } from '../../rules/types'
import type { Exchange } from '../exchange'
import type { EngineState } from './state'

// The invalidate stage: what a write invalidates, and an invalidation applied
// in this process first, then recorded in the shared tier (or deferred).

const debug = debuglog('cachet')

/** Invalidations kept for `recentInvalidations()`. */
const RECENT_INVALIDATIONS = 50

/** The path pattern `purge()` records: it matches every path. */
export const PURGE_ALL_PATTERN = '/{*all}'

/**
 * The fields of a write's response that name other URIs it changed (RFC 9111
 * §4.4): origin-driven rules invalidate those too.
 */
export interface WriteResponse {
  readonly location?: string
  readonly 'content-location'?: string
}

/**
 * The path a write's `Location` or `Content-Location` names, when it is on
 * the request's own host (RFC 9111 §4.4: never another host's); relative
 * references are resolved against the request's path.
 */
export function sameHostPath(value: string | undefined, ex: Exchange): string | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const host = typeof ex.headers.host === 'string' ? ex.headers.host : 'localhost'
  let base: URL
  let url: URL
  try {
    base = new URL(`http://${host}${ex.path}`)
    url = new URL(value.trim(), base)
  } catch {
    return undefined
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host !== base.host)
    return undefined
  return url.pathname
}

/** A path as a pattern that matches only itself (path-to-regexp 8 escapes with `\\`). */
export function literalPattern(path: string): string {
  return path.replace(/[{}()[\]+?!:*\\]/g, '\\$&')
}

/**
 * What a successful write matched by `m` invalidates. An unsafe method's
 * implicit rule (origin-driven, see match.ts) invalidates its target, and
 * the paths its response's `Location` and `Content-Location` name on the
 * same host when an origin-driven rule caches them (RFC 9111 §4.4).
 */
export function writeTarget(
  s: EngineState,
  m: RuleMatch<CompiledWriteRule>,
  ex: Exchange,
  response?: WriteResponse,
): NormalizedTarget {
  const spec = m.rule.invalidates
  const vars: TemplateVars = { params: m.params, user: ex.user }
  if (ex.rawQuery !== '') vars.query = parseQuery(ex.rawQuery)
  return {
    tags: spec.tags.map((t) => t.render(vars)).filter((t) => t !== ''),
    patterns: spec.target === true ? targetPatterns(s, ex, response) : spec.patterns,
    users: spec.user && ex.user !== undefined ? [ex.user] : [],
    tenants: [],
    ...(spec.expire === true ? { expire: true } : {}),
  }
}

function targetPatterns(
  s: EngineState,
  ex: Exchange,
  response: WriteResponse | undefined,
): string[] {
  const patterns = [literalPattern(ex.path)]
  if (response === undefined) return patterns
  for (const value of [response.location, response['content-location']]) {
    const path = sameHostPath(value, ex)
    if (path === undefined) continue
    const pattern = literalPattern(path)
    const g = s.rules.match('GET', path)
    if (!patterns.includes(pattern) && g?.rule.kind === 'cache' && g.rule.origin)
      patterns.push(pattern)
  }
  return patterns
}

/**
 * Applies `target` here, then in the shared tier; counts and records it.
 * Rejects when the shared tier could not record it, unless `mode` defers it.
 */
export async function applyInvalidation(
  s: EngineState,
  target: NormalizedTarget,
  by: string,
  mode: InvalidationFailureMode,
): Promise<InvalidationRecord> {
  const plan = s.local.plan(target)
  const started = Date.now()
  // Locally first: it can only cause misses, and this process is covered
  // even before the bus brings the message back.
  s.local.apply(plan, started)
  let error: Error | undefined
  let deferred = false
  const remote = s.remote
  if (remote !== undefined && mode === 'defer' && remote.outbox.size > 0) {
    // The tier has not answered since the last deferral: wait for nothing,
    // the replay records it with the others.
    remote.defer(plan)
    deferred = true
  } else if (remote !== undefined) {
    try {
      await remote.invalidate(plan)
    } catch (err) {
      if (mode === 'defer') {
        remote.defer(plan)
        deferred = true
      } else error = err as Error
    }
  }
  // The CDN after this cache: a CDN that refetches at once finds the cache
  // already invalidated. A deferred invalidation purges once it is recorded
  // (the outbox's replay); a refused one purges all the same (the caller
  // retries, and a purge costs at most a refetch).
  const cdn = s.cdn
  if (cdn?.queue !== undefined && !deferred)
    purgePlan(
      { config: cdn.config, queue: cdn.queue },
      plan,
      target.patterns.includes(PURGE_ALL_PATTERN),
    )
  const c = s.invalidations
  if (deferred) c.deferred++
  else if (error === undefined) {
    c.done++
    c.tags += target.tags.length
    c.patterns += target.patterns.length
    c.users += target.users.length
    c.tenants += target.tenants.length
  } else c.failed++
  const record: InvalidationRecord = {
    at: started,
    by,
    tags: target.tags,
    patterns: target.patterns,
    users: target.users,
    tenants: target.tenants,
    mode: plan.expire === true ? 'expire' : 'delete',
    ok: error === undefined && !deferred,
    deferred,
    ms: Date.now() - started,
  }
  if (s.recent.length >= RECENT_INVALIDATIONS) s.recent.shift()
  s.recent.push(record)
  if (s.events.listenerCount('invalidate') > 0) s.events.emit('invalidate', record)
  debug(
    'invalidated by %s %o%s',
    by,
    plan,
    error === undefined ? (deferred ? ' (deferred)' : '') : `: ${error.message}`,
  )
  if (error !== undefined) throw error
  return record
}
