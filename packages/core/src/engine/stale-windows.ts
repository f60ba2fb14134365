import { type CacheControl, parseCacheControl, unqualifiedNoCache } from '../http/cache-control'
import { storedPolicy } from '../http/targeted'
import type { CompiledCacheRule } from '../rules/types'

/** How long past its freshness a stored copy may still be served: while revalidating, or for an error. */
export interface StaleWindows {
  readonly swrMs: number
  readonly sieMs: number
}

const NONE: StaleWindows = { swrMs: 0, sieMs: 0 }

function seconds(cc: CacheControl, name: string): number {
  const v = cc.get(name)
  return typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) * 1000 : 0
}

/**
 * A rule-driven copy: the rule's windows. An origin-driven one: the longer of
 * the rule's and the response's own RFC 5861 directives
 * (`stale-while-revalidate=N`, `stale-if-error=N`; malformed means none; at
 * most `maxTtl`), and none at all after `must-revalidate`, `proxy-revalidate`
 * `s-maxage` or an unqualified `no-cache` (RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.4, §5.2.2.8,
 * §5.2.2.10).
 */
export function windowsOf(cc: CacheControl, rule: CompiledCacheRule): StaleWindows {
  if (!rule.origin) return { swrMs: rule.staleWhileRevalidateMs, sieMs: rule.staleIfErrorMs }
  if (
    cc.has('must-revalidate') ||
    cc.has('proxy-revalidate') ||
    cc.has('s-maxage') ||
    unqualifiedNoCache(cc)
  )
    return NONE
  return {
    swrMs: Math.max(
      rule.staleWhileRevalidateMs,
      Math.min(seconds(cc, 'stale-while-revalidate'), rule.ttlMs),
    ),
    sieMs: Math.max(rule.staleIfErrorMs, Math.min(seconds(cc, 'stale-if-error'), rule.ttlMs)),
  }
}

/** `windowsOf` for a stored copy, from its stored `Cache-Control`. */
export function storedWindows(rule: CompiledCacheRule, headers: readonly string[]): StaleWindows {
  if (!rule.origin) return { swrMs: rule.staleWhileRevalidateMs, sieMs: rule.staleIfErrorMs }
  return windowsOf(parseCacheControl(storedPolicy(headers, rule.targeted)), rule)
}

/**
 * Whether a fresh copy is past its rule's `refreshAhead` point: that
 * fraction of its own freshness (`staleAt - cachedAt`) has gone by.
 */
export function refreshDue(
  rule: CompiledCacheRule,
  copy: { readonly cachedAt: number; readonly staleAt: number },
  now: number,
): boolean {
  const f = rule.refreshAhead
  return f > 0 && now >= copy.cachedAt + f * (copy.staleAt - copy.cachedAt)
}
