import fs from 'node:fs'
import path from 'node:path'

// Summarizes a V8 `.cpuprofile` (node --cpu-prof): self time by function and
// by area (cachet, the framework, Node's HTTP internals, GC, idle).

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileLine {
  name: string
  where: string
  area: string
  selfMs: number
  share: number
  /** For attributed lines: the part spent in Node/V8 internals it called. */
  internalMs?: number
}

export interface ProfileSummary {
  totalMs: number
  /** Busy time: everything but `(idle)`. */
  busyMs: number
  top: ProfileLine[]
  areas: { area: string; selfMs: number; share: number }[]
  /** Self time of cachet's own functions, by function, as a share of busy time. */
  cachet: ProfileLine[]
  /**
   * cachet's functions by attributed time: their own plus the Node internals
   * they call (HTTP writes included), not the framework or route code reached
   * through next(); as a share of busy time.
   */
  cachetAttributed: ProfileLine[]
  /** The sum of `cachetAttributed`, as a share of busy time. */
  cachetShare: number
}

const ROOT = path.resolve(__dirname, '..', '..')

/** `packages/core/dist/engine/replay.js` → `packages/core/src/engine/replay.ts`. */
function where(url: string, line: number): string {
  if (url === '') return ''
  let file = url.replace(/^file:\/\//, '')
  if (file.startsWith(ROOT)) file = path.relative(ROOT, file)
  const src = /^packages\/(\w+)\/dist\/(.+)\.js$/.exec(file)
  if (src) return `packages/${src[1]}/src/${src[2]}.ts`
  return line >= 0 ? `${file}:${line + 1}` : file
}

function areaOf(frame: CallFrame): string {
  const { functionName: name, url } = frame
  if (name === '(idle)') return 'idle'
  if (name === '(garbage collector)') return 'GC'
  if (name === '(program)') return 'V8/native (program)'
  if (/\/packages\/(core|express|koa|fastify)\//.test(url) || /node_modules\/@cachet\//.test(url))
    return 'cachet'
  if (/\/bench\/dist\//.test(url)) return 'bench app'
  if (/node_modules\/(express|router|body-parser|send|finalhandler|etag|fresh)\//.test(url))
    return 'express'
  if (/node_modules\/(koa|koa-compose|koa-cash|on-finished|statuses)\//.test(url)) return 'koa'
  if (
    /node_modules\/(fastify|@fastify\/[^/]+|find-my-way|avvio|light-my-request|fast-json-stringify)\//.test(
      url,
    )
  )
    return 'fastify'
  if (/node_modules\/(apicache|redis|ioredis)/.test(url)) return 'cache library / client'
  if (url.startsWith('node:')) {
    if (/^node:_http|^node:http/.test(url)) return 'node http'
    if (/^node:net|^node:internal\/stream|^node:stream|^node:internal\/streams/.test(url))
      return 'node net/streams'
    return 'node other'
  }
  if (url === '') return 'V8/native'
  return 'other JS'
}

export function summarizeProfile(file: string, topN = 15): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  for (const n of profile.nodes) byId.set(n.id, n)
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const byFunction = new Map<string, { frame: CallFrame; us: number }>()
  const byArea = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (!node) continue
    totalUs += us
    const f = node.callFrame
    if (f.functionName === '(idle)') idleUs += us
    const key = `${f.functionName}|${f.url}|${f.lineNumber}`
    const entry = byFunction.get(key) ?? { frame: f, us: 0 }
    entry.us += us
    byFunction.set(key, entry)
    const area = areaOf(f)
    byArea.set(area, (byArea.get(area) ?? 0) + us)
  }
  const busyUs = Math.max(1, totalUs - idleUs)
  // Time attributed to cachet: each sample goes to the nearest enclosing frame
  // that is cachet's, the framework's or the app's; what lands on a cachet
  // frame is that function's own time plus the Node internals it calls
  // (writeHead, end, setHeader...), but not the framework or route code it
  // hands control to (next()). GC and idle time belong to no one.
  const attributed = new Map<string, { frame: CallFrame; us: number; internal: number }>()
  let attributedUs = 0
  const root = profile.nodes[0]
  if (root) {
    const owners = new Set([
      'cachet',
      'express',
      'koa',
      'fastify',
      'bench app',
      'cache library / client',
    ])
    const walk: { id: number; owner: ProfileNode | undefined }[] = [
      { id: root.id, owner: undefined },
    ]
    while (walk.length > 0) {
      const { id, owner } = walk.pop() as { id: number; owner: ProfileNode | undefined }
      const node = byId.get(id)
      if (!node) continue
      const area = areaOf(node.callFrame)
      const own = owners.has(area) ? (area === 'cachet' ? node : undefined) : owner
      const us = selfUs.get(id) ?? 0
      if (own !== undefined && us > 0) {
        const f = own.callFrame
        const key = `${f.functionName}|${f.url}|${f.lineNumber}`
        const entry = attributed.get(key) ?? { frame: f, us: 0, internal: 0 }
        entry.us += us
        if (own !== node) entry.internal += us
        attributed.set(key, entry)
        attributedUs += us
      }
      for (const c of node.children ?? []) walk.push({ id: c, owner: own })
    }
  }
  const line = (e: { frame: CallFrame; us: number }): ProfileLine => ({
    name: e.frame.functionName || '(anonymous)',
    where: where(e.frame.url, e.frame.lineNumber),
    area: areaOf(e.frame),
    selfMs: e.us / 1000,
    share: e.us / busyUs,
  })
  const functions = [...byFunction.values()]
    .filter((e) => e.frame.functionName !== '(idle)')
    .sort((a, b) => b.us - a.us)
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top: functions.slice(0, topN).map(line),
    areas: [...byArea.entries()]
      .filter(([area]) => area !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, share: us / busyUs })),
    cachet: functions
      .filter((e) => areaOf(e.frame) === 'cachet')
      .slice(0, 10)
      .map(line),
    cachetAttributed: [...attributed.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, 10)
      .map((e) => ({ ...line(e), internalMs: e.internal / 1000 })),
    cachetShare: attributedUs / busyUs,
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

export function profileMarkdown(title: string, s: ProfileSummary, command: string): string {
  const out: string[] = [`### Profile: ${title}`, '']
  out.push(
    `Busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled. Command: \`${command}\``,
    '',
  )
  out.push('| area | self | share of busy |', '| --- | ---: | ---: |')
  for (const a of s.areas) out.push(`| ${a.area} | ${a.selfMs.toFixed(0)} ms | ${pct(a.share)} |`)
  out.push(
    '',
    '| top self time | where | area | self | share |',
    '| --- | --- | --- | ---: | ---: |',
  )
  for (const l of s.top)
    out.push(
      `| \`${l.name}\` | ${l.where} | ${l.area} | ${l.selfMs.toFixed(0)} ms | ${pct(l.share)} |`,
    )
  if (s.cachet.length > 0) {
    out.push('', '| cachet function | file | self | share |', '| --- | --- | ---: | ---: |')
    for (const l of s.cachet)
      out.push(`| \`${l.name}\` | ${l.where} | ${l.selfMs.toFixed(1)} ms | ${pct(l.share)} |`)
  }
  if (s.cachetAttributed.length > 0) {
    out.push(
      '',
      `Attributed to cachet (its functions and the Node internals they call, not the framework or route code reached through next()): ${pct(s.cachetShare)} of busy time.`,
      '',
      '| cachet function, attributed | file | time | of which in Node internals it calls | share |',
      '| --- | --- | ---: | ---: | ---: |',
    )
    for (const l of s.cachetAttributed)
      out.push(
        `| \`${l.name}\` | ${l.where} | ${l.selfMs.toFixed(1)} ms | ${(l.internalMs ?? 0).toFixed(1)} ms | ${pct(l.share)} |`,
      )
  }
  return `${out.join('\n')}\n`
}
