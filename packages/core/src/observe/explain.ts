import type { IncomingHttpHeaders } from 'node:http'
import { type Exchange, splitUrl } from '../engine/exchange'
import { writeTarget } from '../engine/stages/invalidate'
import { keyOf, tagsFor } from '../engine/stages/match'
import type { EngineState } from '../engine/stages/state'
import { storedWindows } from '../engine/stale-windows'
import { indexNames, VARIANT_INDEX_STATUS, variantKey } from '../engine/variants'
import { parseQuery } from '../rules/key'
import { requestBypassReason } from '../rules/request-filter'
import type { CompiledCacheRule, CompiledWriteRule, RuleMatch } from '../rules/types'
import type { Explanation } from './events'

// `explain()`: why a request would (not) be served from or stored in the
// cache, read from the rules, the memory tier and the last storage decisions.

/** What `explain()` takes: a request as the app would receive it. */
export interface ExplainRequest {
  method?: string
  url: string
  headers?: IncomingHttpHeaders
  /** The verified user id, for per-user rules. */
  user?: string
  /** The tenant, for rules with a `tenant` (its function is not called here). */
  tenant?: string
}

/**
 * The rule a request matches, the components of its key (never the raw
 * key), freshness and stale windows, what the memory tier holds for it, and
 * the last storage decision for that key in this process. Reads nothing from
 * the shared tier and changes nothing.
 */
export function explain(s: EngineState, request: ExplainRequest): Explanation {
  const method = (request.method ?? 'GET').toUpperCase()
  const { path, rawQuery } = splitUrl(request.url)
  const headers = request.headers ?? {}
  const m = s.rules.match(method, path)
  if (m === undefined) return { method, path, matched: false }
  const rule = m.rule
  if (rule.kind === 'invalidate') {
    const target = writeTarget(s, m as RuleMatch<CompiledWriteRule>, {
      method,
      path,
      rawQuery,
      headers,
      user: request.user,
    })
    return {
      method,
      path,
      matched: true,
      rule: { name: rule.name, path: rule.path, kind: 'write' },
      invalidates: { tags: target.tags, patterns: target.patterns, users: target.users },
    }
  }
  const ex: Exchange = {
    method,
    path,
    rawQuery,
    headers,
    user: request.user,
    // As `tenantOf` takes it: an empty tenant is none.
    tenant: request.tenant === '' ? undefined : request.tenant,
  }
  const cm = m as RuleMatch<CompiledCacheRule>
  const query = parseQuery(rawQuery)
  const keyQuery: Array<[string, string]> =
    rule.key.query === 'none'
      ? []
      : rule.key.query === 'all'
        ? [...query].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        : rule.key.query.flatMap((name) =>
            query.getAll(name).map((v) => [name, v] as [string, string]),
          )
  const explanation: Explanation = {
    method,
    path,
    matched: true,
    rule: {
      name: rule.name,
      path: rule.path,
      kind: 'cache',
      ttlSeconds: rule.ttlMs / 1000,
      staleWhileRevalidateSeconds: rule.staleWhileRevalidateMs / 1000,
      staleIfErrorSeconds: rule.staleIfErrorMs / 1000,
      perUser: rule.perUser,
      statuses: [...rule.statuses],
      maxBodySize: rule.maxBodySize,
    },
    key: {
      path,
      query: keyQuery,
      ignoredQuery: [...query.keys()].filter((n) => !keyQuery.some(([k]) => k === n)),
      headers: rule.key.headers.map((h) => [h, String(headers[h] ?? '')] as [string, string]),
      perUser: rule.perUser,
    },
    tags: tagsFor(cm, ex).filter((t) => !t.startsWith('#')),
  }
  const bypass = requestBypassReason(rule, headers, request.user, rawQuery, ex.tenant)
  if (bypass !== undefined) return { ...explanation, bypass }
  const now = Date.now()
  let key = keyOf(s, rule, ex)
  const index = s.l1?.peek(key)
  if (index !== undefined && index.status === VARIANT_INDEX_STATUS)
    key = variantKey(key, indexNames(index), ex.headers)
  const entry = s.l1?.peek(key)
  if (entry !== undefined && now < entry.deleteAt && s.local.isValid(entry)) {
    const staleMs = now - entry.staleAt
    explanation.memory = {
      state:
        staleMs < 0
          ? 'fresh'
          : staleMs < storedWindows(rule, entry.headers).swrMs
            ? 'stale-while-revalidate'
            : staleMs < storedWindows(rule, entry.headers).sieMs
              ? 'stale-if-error'
              : 'expired',
      ageSeconds: Math.floor((now - entry.cachedAt) / 1000),
      ttlSeconds: Math.ceil(-staleMs / 1000),
      bytes: entry.size,
    }
  } else explanation.memory = { state: 'absent' }
  const decision = s.decisions.get(key)
  if (decision !== undefined) explanation.last = { ...decision }
  return explanation
}
