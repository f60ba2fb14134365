import { describeValue } from '../errors'
import { type Duration, parseDuration } from '../options/units'
import { isPlainObject, type RuleContext } from './rule-context'

/**
 * `originTimeout`: how long a miss waits for its route before the cache
 * answers for it (stale-if-slow). The route keeps running; its response is
 * stored when it finishes.
 */
export interface OriginTimeoutOptions {
  /**
   * With a stale copy at hand (inside the rule's `staleIfError` window, or an
   * origin-driven copy's own `stale-if-error`): a route that has not started
   * its response after this long is answered for with the copy
   * (`Cache-Status: …; detail=origin-timeout`). Seconds or a duration string
   * (`'100ms'`).
   */
  soft?: Duration
  /**
   * The longest wait: past it the stale copy goes out if there is one
   * (`soft` unset), else, only with `hardStatus`, a 503 or 504 the cache
   * makes. Without `hardStatus` the client waits for the route's own answer.
   */
  hard?: Duration
  /** The status of the cache's answer past `hard` when there is no stale copy: 503 or 504. Default: none (wait). */
  hardStatus?: 503 | 504
}

/** `originTimeout`, compiled: 0 where a limit is not set. */
export interface CompiledOriginTimeout {
  readonly softMs: number
  readonly hardMs: number
  readonly hardStatus: 503 | 504 | undefined
}

const FIELDS = ['soft', 'hard', 'hardStatus']
/** The longest limit: a timer's range is far beyond it, and no client waits longer. */
const MAX_MS = 3_600_000

function limit(ctx: RuleContext, field: string, value: unknown): number {
  if (value === undefined) return 0
  const ms = ctx.check(`originTimeout.${field}`, parseDuration(value))
  if (ms <= 0)
    ctx.fail(`originTimeout.${field}`, `expected more than 0 seconds, got ${describeValue(value)}`)
  if (ms > MAX_MS)
    ctx.fail(`originTimeout.${field}`, `expected at most 1 hour, got ${describeValue(value)}`)
  return ms
}

/**
 * Checks a rule's `originTimeout`. `staleCopies` is whether the rule can
 * have a stale copy to stand in (a `staleIfError` window, or `ttl: 'origin'`
 * whose responses may carry their own `stale-if-error`).
 */
export function compileOriginTimeout(
  ctx: RuleContext,
  value: unknown,
  staleCopies: boolean,
): CompiledOriginTimeout | undefined {
  if (value === undefined) return undefined
  if (!isPlainObject(value))
    ctx.fail(
      'originTimeout',
      `expected { soft, hard, hardStatus } (durations: '100ms', 2), got ${describeValue(value)}`,
    )
  for (const field of Object.keys(value))
    if (!FIELDS.includes(field)) ctx.unknown(field, FIELDS, 'originTimeout.')
  const softMs = limit(ctx, 'soft', value.soft)
  const hardMs = limit(ctx, 'hard', value.hard)
  const hardStatus = value.hardStatus
  if (softMs === 0 && hardMs === 0) ctx.fail('originTimeout', 'expected soft, hard or both')
  if (hardMs > 0 && softMs >= hardMs)
    ctx.fail(
      'originTimeout.soft',
      `expected less than hard (${describeValue(value.hard)}), got ${describeValue(value.soft)}`,
    )
  if (hardStatus !== undefined && hardStatus !== 503 && hardStatus !== 504)
    ctx.fail('originTimeout.hardStatus', `expected 503 or 504, got ${describeValue(hardStatus)}`)
  if (hardStatus !== undefined && hardMs === 0)
    ctx.fail('originTimeout.hardStatus', 'only with originTimeout.hard (when the cache answers)')
  if (!staleCopies && (softMs > 0 || hardStatus === undefined))
    ctx.fail(
      'originTimeout',
      hardStatus === undefined && softMs === 0
        ? 'hard without hardStatus needs staleIfError: past it, a stale copy kept inside that window answers'
        : 'soft needs staleIfError: a slow route is answered with a stale copy kept inside that window',
    )
  return { softMs, hardMs, hardStatus: hardStatus as 503 | 504 | undefined }
}
