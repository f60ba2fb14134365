import type { CompiledCacheRule } from '../rules/types'
import type { Replay } from './replay'
import type { EngineState } from './stages/state'
import { ORIGIN_TIMED_OUT } from './status-headers'

// Stale-if-slow (a rule's `originTimeout`): when a request that waits for
// an origin answer — its own route's, another request's in this process, or
// another process's fill lock — is answered by the cache instead.

/**
 * How long a request may wait for the origin before the cache answers for
 * it: `soft` (or `hard`, without `soft`) with a stale copy at hand; `hard`
 * without one when the rule answers with `hardStatus`; otherwise no limit.
 */
export function slowLimitMs(rule: CompiledCacheRule, stale: boolean): number | undefined {
  const t = rule.originTimeout
  if (t === undefined) return undefined
  if (stale) return t.softMs > 0 ? t.softMs : t.hardMs
  return t.hardStatus !== undefined ? t.hardMs : undefined
}

/** The cache's answer past `originTimeout.hard` without a stale copy (`hardStatus`). */
export function originTimedOut(status: 503 | 504): Replay {
  return {
    status,
    headers: [...ORIGIN_TIMED_OUT.headers],
    body: Buffer.from(ORIGIN_TIMED_OUT.body),
  }
}

/**
 * How long a key stays slow after another process's fill of it was (see
 * `EngineState.slowKeys`): its requests still read the shared tier (a copy
 * stored meanwhile answers), but do not wait for the fill lock again.
 */
export const SLOW_NOTE_MS = 1_000
/** Most keys noted at once (the oldest goes first). */
const SLOW_NOTES_KEPT = 10_000

/** Another process's fill of `key` is slower than the rule allows. */
export function noteSlow(s: EngineState, key: string, now: number): void {
  s.slowKeys.delete(key)
  s.slowKeys.set(key, now + SLOW_NOTE_MS)
  if (s.slowKeys.size > SLOW_NOTES_KEPT) s.slowKeys.delete(s.slowKeys.keys().next().value as string)
}

/** Whether `key` was noted slow and still is. */
export function isSlow(s: EngineState, key: string, now: number): boolean {
  if (s.slowKeys.size === 0) return false
  const until = s.slowKeys.get(key)
  if (until === undefined) return false
  if (now < until) return true
  s.slowKeys.delete(key)
  return false
}
