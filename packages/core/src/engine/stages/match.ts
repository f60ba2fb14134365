import { tenantTag, userTag } from '../../invalidation/target'
import { buildKey, parseQuery } from '../../rules/key'
import type { TemplateVars } from '../../rules/template'
import type { CompiledCacheRule, CompiledWriteRule, RuleMatch } from '../../rules/types'
import type { Exchange } from '../exchange'
import type { EngineState } from './state'

// The match stage: which rule a request falls under, and what a cache rule's
// match makes of the request (its key, its tags).

const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** RFC 9110 §9.2.1: every other method, known or not, is unsafe (RFC 9111 §4.4). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** The rule `method` and `path` match: a declared one, or an origin-driven rule's target. */
export function matchRequest(s: EngineState, method: string, path: string): RuleMatch | undefined {
  const m = s.rules.match(method, path)
  if (m !== undefined || !s.hasOriginRules || SAFE_METHODS.has(method)) return m
  return targetMatch(s, path)
}

/**
 * RFC 9111 §4.4: an unsafe request (any method but GET, HEAD, OPTIONS and
 * TRACE, RFC 9110 §9.2.1; no write rule of its own) to a path an
 * origin-driven rule caches invalidates that path's entries, as a write rule
 * would: on a 2xx, on every process, before the response is sent.
 */
function targetMatch(s: EngineState, path: string): RuleMatch<CompiledWriteRule> | undefined {
  const g = s.rules.match('GET', path)
  if (g === undefined || g.rule.kind !== 'cache' || !g.rule.origin) return undefined
  let write = s.targetRules.get(g.rule)
  if (write === undefined) {
    write = {
      kind: 'invalidate',
      index: g.rule.index,
      name: `${g.rule.name} (target of unsafe methods)`,
      path: g.rule.path,
      methods: UNSAFE_METHODS,
      match: g.rule.match,
      invalidates: { tags: [], patterns: [], user: false, target: true },
    }
    s.targetRules.set(g.rule, write)
  }
  return { rule: write, params: g.params }
}

/** The key of the URI `ex` asks for under `rule` (a variant's is derived from it, see variants.ts). */
export function keyOf(s: EngineState, rule: CompiledCacheRule, ex: Exchange): string {
  return buildKey(s.namespace, rule, ex)
}

/** The tags an entry stored for `ex` gets: the rule's rendered ones, its route tag, its user's, its tenant's. */
export function tagsFor(m: RuleMatch<CompiledCacheRule>, ex: Exchange): string[] {
  const rule = m.rule
  const vars: TemplateVars = { params: m.params, user: ex.user }
  if (ex.rawQuery !== '') vars.query = parseQuery(ex.rawQuery)
  const tags = rule.tags.map((t) => t.render(vars))
  tags.push(rule.routeTag)
  if (rule.perUser && ex.user !== undefined) tags.push(userTag(ex.user))
  if (ex.tenant !== undefined) tags.push(tenantTag(ex.tenant))
  return tags
}
