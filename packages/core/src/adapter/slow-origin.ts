import type { ServerResponse } from 'node:http'
import type { Fill } from '../engine/fill'
import { replay } from '../engine/replay'
import { originTimedOut } from '../engine/slow-origin'
import type { Conditionals } from '../http/conditional'
import { shadowResponse } from './shadow-response'

/**
 * A route the cache answered for and that never ended is given up after
 * this long: its fill is abandoned (nothing stored).
 */
export const DETACHED_LIMIT_MS = 60_000

/**
 * Stale-if-slow, for the route of a miss under a rule with
 * `originTimeout`: when the route has not started its response after
 * `soft` (or `hard`, without `soft`) and the fill holds a stale-if-error
 * copy, the client gets the copy (`Cache-Status: …; detail=origin-timeout`);
 * past `hard` without a copy, the rule's `hardStatus`. The route runs on
 * into a shadow of the response (see shadow-response.ts) and its answer is
 * stored as any miss's is. Installed before the adapter's capture, so that
 * the capture records what the route sends either way. A rule without
 * `originTimeout`, and a background refresh, cost nothing here.
 */
export function watchSlowOrigin(
  res: ServerResponse,
  fill: Fill,
  head: boolean,
  conditionals: Conditionals | undefined,
): void {
  const limits = fill.rule.originTimeout
  if (limits === undefined || fill.revalidation) return
  const stale = fill.stale !== undefined
  if (!stale && limits.hardStatus === undefined) return
  const shadow = shadowResponse(res)
  const timers: NodeJS.Timeout[] = []
  const answer = (hard: boolean) => {
    if (shadow.answered || res.headersSent || fill.finished) return
    const copy = fill.stale
    const outer = fill.outerHeaders
    if (copy !== undefined) {
      fill.detach(copy)
      const how = { reason: 'timeout', forwarded: true } as const
      const r = replay(copy, Date.now(), conditionals, head, how, fill.rule)
      shadow.answer(r, outer)
    } else if (hard && limits.hardStatus !== undefined) {
      fill.detach(undefined)
      shadow.answer(originTimedOut(limits.hardStatus), outer)
    } else return
    for (const t of timers) clearTimeout(t)
    timers.push(
      setTimeout(() => {
        fill.onAbort()
        shadow.end()
      }, DETACHED_LIMIT_MS).unref(),
    )
  }
  if (stale && limits.softMs > 0) timers.push(setTimeout(answer, limits.softMs, false))
  if (limits.hardMs > 0) timers.push(setTimeout(answer, limits.hardMs, true))
  const done = () => {
    for (const t of timers) clearTimeout(t)
  }
  res.once('finish', done)
  res.once('close', done)
}
