import { performance } from 'node:perf_hooks'
import { adminRequest, errorOf, refuse } from '../admin-client'
import {
  ADMIN_OPTIONS,
  count,
  duration,
  EXIT_FAILED,
  EXIT_OK,
  Failure,
  type Io,
  type OptionSpec,
  parse,
  REDIS_OPTIONS,
  target,
  UsageError,
} from '../args'
import { formatMs } from '../format'

export const WARM_USAGE = `usage: cachet warm --admin URL (--token T | --token-env VAR) (--url U ... | --file F | --top N)

Asks the app to fetch URLs through itself (POST /warm of its admin API), so that the
cache holds them: after a deploy, a restart or a flush. Shows progress.

  --url U            a path (and query) to warm, e.g. /products/1 (repeat for several)
  --file F           one URL per line (# comments and blank lines ignored); - for stdin
  --top N            the app's N most requested URLs (it needs the warm.track option)
  --admin URL        the admin API, e.g. http://127.0.0.1:3000/admin/cache
  --token T | --token-env VAR   its bearer token
  --concurrency N    requests at once in the app (default 4, at most 64)
  --batch N          URLs per POST /warm (default 50): progress moves per batch
  --timeout D        give up on one batch after D (default 60s)
  -h, --help         this help

Only GET URLs that a cache rule (not a per-user one) matches are fetched; the rest
are reported as skipped. The process that answers is warmed, and with Redis every
process reads what it stored.

Exit: 0 every URL warmed (or skipped), 1 some failed or the app is unreachable,
2 usage error.
`

const SPEC: OptionSpec = {
  url: { type: 'string' },
  file: { type: 'string' },
  top: { type: 'string' },
  concurrency: { type: 'string' },
  batch: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...ADMIN_OPTIONS,
  // Not for warm, but known, so that --redis gets a clear "needs --admin".
  ...REDIS_OPTIONS,
}

/** Keeps each POST body well under the admin API's 64 KiB body limit. */
const MAX_BATCH_BYTES = 48 * 1024
const MAX_URLS = 100_000

interface Summary {
  total: number
  ok: number
  failed: number
  skipped: number
  hits: number
  misses: number
  problems: Array<{ url: string; reason: string }>
}

function urlsFromText(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

/** Batches of at most `size` URLs and `MAX_BATCH_BYTES` of JSON. */
function batches(urls: readonly string[], size: number): string[][] {
  const out: string[][] = []
  let current: string[] = []
  let bytes = 0
  for (const url of urls) {
    const b = Buffer.byteLength(JSON.stringify(url)) + 1
    if (current.length > 0 && (current.length >= size || bytes + b > MAX_BATCH_BYTES)) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(url)
    bytes += b
  }
  if (current.length > 0) out.push(current)
  return out
}

export async function warmCommand(args: readonly string[], io: Io): Promise<number> {
  const p = parse(args, SPEC)
  if (p.flags.help) {
    io.stdout.write(WARM_USAGE)
    return EXIT_OK
  }
  const given = (p.strings.url ?? []).length > 0 ? 1 : 0
  const file = p.strings.file ?? []
  const sources = given + (file.length > 0 ? 1 : 0) + ((p.strings.top ?? []).length > 0 ? 1 : 0)
  if (sources !== 1) throw new UsageError('give one of --url U ..., --file F or --top N')
  if (file.length > 1) throw new UsageError('give --file once')
  const top = count(p, 'top', 1, 10_000)
  const concurrency = count(p, 'concurrency', 1, 64)
  const batchSize = count(p, 'batch', 1, 10_000) ?? 50
  const timeoutMs = duration(p, 'timeout', '60s')
  const where = target(p, io, { redis: false })
  if (where.kind !== 'admin') throw new UsageError('give --admin URL')

  let urls: string[]
  if (top !== undefined) {
    const answer = await adminRequest(where.url, where.token, 'GET', `/top?n=${top}`, timeoutMs)
    if (answer.status !== 200) refuse(answer, `${where.url}/top`)
    const list = (answer.body as { urls?: Array<{ url?: unknown }> } | undefined)?.urls
    if (!Array.isArray(list)) throw new Failure(`GET ${where.url}/top answered no URL list`)
    urls = list.map((u) => u.url).filter((u): u is string => typeof u === 'string')
    if (urls.length === 0) {
      io.stdout.write(
        'nothing to warm: the app has no most-requested URLs yet (is warm.track set?)\n',
      )
      return EXIT_OK
    }
  } else if (file.length > 0) {
    const path = file[0] as string
    let text: string
    try {
      text = await io.readText(path)
    } catch (err) {
      throw new UsageError(`--file: cannot read ${path}: ${(err as Error).message}`)
    }
    urls = urlsFromText(text)
    if (urls.length === 0) throw new UsageError(`--file: no URLs in ${path}`)
  } else urls = [...new Set(p.strings.url)]
  if (urls.length > MAX_URLS)
    throw new UsageError(`at most ${MAX_URLS} URLs per run, got ${urls.length}`)

  const tty = io.stdout.isTTY === true
  const started = performance.now()
  const sum: Summary = { total: 0, ok: 0, failed: 0, skipped: 0, hits: 0, misses: 0, problems: [] }
  let sent = 0
  const progress = () =>
    `warming ${sent}/${urls.length} ok=${sum.ok} failed=${sum.failed}${sum.skipped > 0 ? ` skipped=${sum.skipped}` : ''}`
  if (tty) io.stdout.write(progress())
  for (const batch of batches(urls, batchSize)) {
    const body = { urls: batch, ...(concurrency !== undefined ? { concurrency } : {}) }
    const answer = await adminRequest(where.url, where.token, 'POST', '/warm', timeoutMs, body)
    if (answer.status !== 200) {
      if (tty) io.stdout.write('\n')
      if (answer.status === 503)
        throw new Failure(`the app cannot warm yet (503): ${errorOf(answer)}`)
      refuse(answer, `${where.url}/warm`)
    }
    const r = answer.body as Partial<Summary>
    for (const k of ['total', 'ok', 'failed', 'skipped', 'hits', 'misses'] as const)
      sum[k] += Number(r[k] ?? 0)
    for (const problem of r.problems ?? []) if (sum.problems.length < 20) sum.problems.push(problem)
    sent += batch.length
    if (tty) io.stdout.write(`\r\x1b[2K${progress()}`)
  }
  // On a terminal the progress line becomes the summary; otherwise the summary is the one line.
  io.stdout.write(
    `${tty ? '\r\x1b[2K' : ''}warmed ${sent}/${urls.length} ok=${sum.ok} failed=${sum.failed} skipped=${sum.skipped} (hits=${sum.hits} misses=${sum.misses}) in ${formatMs(performance.now() - started)}\n`,
  )
  for (const problem of sum.problems) io.stderr.write(`  ${problem.url}: ${problem.reason}\n`)
  return sum.failed > 0 ? EXIT_FAILED : EXIT_OK
}
