import fs from 'node:fs'
import path from 'node:path'
import type { BenchData } from './data'
import { BENCH_DIR, DEFAULT_OUT, type Options, ROOT } from './options'
import { profileMarkdown } from './profile'
import { elapsed, log } from './progress'

// Where a run's report goes: bench/results (with its profiles), a dated copy
// bench/results/YYYY-MM-DD.md, and the tables in bench/README.md and
// docs/performance.md (between their `latest` markers).

const START = '<!-- latest:start -->'
const END = '<!-- latest:end -->'

/** Writes the report `md` (and the profiles' tables) where `o` says, and refreshes the tables of the docs. */
export function writeResults(md: string, data: BenchData, o: Options): void {
  // A quick run (the test suite's smoke) prints its report and writes nothing, unless told where.
  const out = o.out ?? (o.quick ? undefined : DEFAULT_OUT)
  if (out !== undefined) {
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, md)
    for (const p of data.profiles) {
      const file = path.join(path.dirname(out), 'profiles', `${p.id.replace(/\//g, '_')}.md`)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, profileMarkdown(`${p.id} — ${p.label}`, p.summary, p.command))
    }
    log(`[${elapsed()}] wrote ${path.relative(process.cwd(), out)}`)
  }
  // A full default run also keeps a dated copy (the day's last full run, by
  // the run's start in UTC) and refreshes the tables in bench/README.md and
  // docs/performance.md.
  if (!o.quick && o.only === undefined && o.out === undefined) {
    const dated = datedFile(data.startedAt)
    fs.writeFileSync(dated, md)
    log(`[${elapsed()}] wrote ${path.relative(process.cwd(), dated)}`)
    replaceBetweenMarkers(path.join(BENCH_DIR, 'README.md'), readmeBlock(md))
    replaceBetweenMarkers(
      path.join(ROOT, 'docs', 'performance.md'),
      docsBlock(md, path.basename(dated)),
    )
  }
}

/** bench/results/YYYY-MM-DD.md for a run started at `startedAt` (UTC). */
export function datedFile(startedAt: Date): string {
  return path.join(path.dirname(DEFAULT_OUT), `${startedAt.toISOString().slice(0, 10)}.md`)
}

/** Puts `block` between the file's `latest` markers; a missing file or marker leaves it alone. */
function replaceBetweenMarkers(file: string, block: string): void {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return
  }
  const a = text.indexOf(START)
  const b = text.indexOf(END)
  if (a < 0 || b < a) return
  fs.writeFileSync(file, `${text.slice(0, a + START.length)}\n${block}\n${text.slice(b)}`)
  log(`[${elapsed()}] updated ${path.relative(process.cwd(), file)}`)
}

/** The report's tables: everything before the missed targets, profiles and machine. */
function tables(md: string): string {
  const body = md.replace(/^# .*\n/, '')
  const cut = body.search(/^## (Missed targets|Profiles|Probe failures|Machine)/m)
  return (cut < 0 ? body : body.slice(0, cut)).trim()
}

/** The report's tables for bench/README.md. */
export function readmeBlock(md: string): string {
  return `${tables(md)}\n\nMissed targets with their profiles, the machine, versions and exact commands: [results/latest.md](results/latest.md).`
}

/**
 * The report's tables for docs/performance.md: its sections one level down
 * (the page's own section holds them), links from docs/ to bench/results/.
 */
export function docsBlock(md: string, datedName: string): string {
  const demoted = tables(md).replace(/^(#{2,5}) /gm, '#$1 ')
  return `${demoted}\n\nMissed targets with their profiles, the machine, versions and exact commands: [bench/results/latest.md](../bench/results/latest.md); this run alone: [bench/results/${datedName}](../bench/results/${datedName}).`
}
