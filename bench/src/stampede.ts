import http from 'node:http'
import { performance } from 'node:perf_hooks'
import type { StampedeResult } from './data'
import { type AppProcess, control, request } from './procs'

// The stampede phase: concurrent cold requests for one key of a slow origin.

export const STAMPEDE_REQUESTS = 200

export async function stampede(app: AppProcess, trial: number): Promise<StampedeResult> {
  const id = `st-${process.pid}-${trial}-${Date.now()}`
  const agent = new http.Agent({ keepAlive: false, maxSockets: STAMPEDE_REQUESTS })
  const t0 = performance.now()
  const replies = await Promise.all(
    Array.from({ length: STAMPEDE_REQUESTS }, () =>
      request(`${app.origin}/slow/${id}`, { agent, timeoutMs: 30_000 }).catch(() => undefined),
    ),
  )
  const ms = performance.now() - t0
  agent.destroy()
  const { calls } = await control<{ calls: number }>(app, `/slow-calls?id=${id}`)
  const outcomes: Record<string, number> = {}
  let ok = 0
  for (const r of replies) {
    if (r?.status === 200) ok++
    const tag =
      r === undefined
        ? 'error'
        : String(
            r.headers['x-cache'] ??
              (r.headers['apicache-store'] ? 'apicache HIT' : undefined) ??
              (r.headers['x-cached-response'] ? 'koa-cash HIT' : 'no header'),
          )
    outcomes[tag] = (outcomes[tag] ?? 0) + 1
  }
  return { app: app.name, calls, ok, ms, outcomes }
}
