import type { Measurement } from './matrix'
import { type AppProcess, control, request } from './procs'
import { sleep } from './progress'
import { SIZES } from './shared'

// Probes: every measurement is checked once to measure what it says

export async function probe(m: Measurement, app: AppProcess): Promise<string | undefined> {
  const get = (p: string) => request(`${app.origin}${p}`)
  const bytes = m.path.kind === 'cycle' ? SIZES['2k'] : SIZES[m.size]
  const first = m.path.kind === 'static' ? m.path.path : `${m.path.prefix}probe-${Date.now()}`
  const path1 = m.path.kind === 'cycle' ? `${m.path.prefix}7` : first
  const a = await get(path1)
  if (a.status !== 200) return `${path1}: status ${a.status}`
  if (a.body.length !== bytes) return `${path1}: ${a.body.length} bytes, expected ${bytes}`
  if (m.expect === 'apicache') await sleep(50) // its Redis write is not awaited
  const callsBefore = (await stats(app)).calls[m.route] ?? 0
  const b = await get(path1)
  const repeatRanOrigin = ((await stats(app)).calls[m.route] ?? 0) !== callsBefore
  const xcache = b.headers['x-cache']
  const cached = ['hit', 'miss', 'apicache', 'koa-cash'].includes(m.expect)
  if (cached && repeatRanOrigin) return `${path1} again: the origin ran, expected a hit`
  switch (m.expect) {
    case 'hit':
      return xcache === 'HIT' ? undefined : `${path1}: X-Cache ${xcache}, expected HIT`
    case 'miss':
      if (a.headers['x-cache'] !== 'MISS')
        return `${path1}: X-Cache ${a.headers['x-cache']}, expected MISS`
      return xcache === 'HIT' ? undefined : `${path1} again: X-Cache ${xcache}, expected HIT`
    case 'unmatched':
    case 'plain':
      return xcache === undefined ? undefined : `${path1}: X-Cache ${xcache}, expected none`
    case 'apicache':
      // In production (NODE_ENV=production) apicache sends no headers of its own: the
      // origin-call check above is the proof.
      return undefined
    case 'koa-cash':
      return b.headers['x-cached-response'] === 'HIT'
        ? undefined
        : `${path1}: no X-Cached-Response: HIT`
  }
}

export interface Stats {
  rss: number
  heapUsed: number
  arrayBuffers: number
  l1: { bytes: number; size: number; evictions: number; maxBytes: number } | null
  maxL1BytesSeen: number
  calls: Record<string, number>
}

export const stats = (app: AppProcess) => control<Stats>(app, '/stats')
