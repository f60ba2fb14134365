import fs from 'node:fs'
import path from 'node:path'
import type { BenchData } from './data'
import { BENCH_DIR, DEFAULT_OUT, type Options } from './options'
import { profileMarkdown } from './profile'
import { elapsed, log } from './progress'

// Where a run's report goes: bench/results (with its profiles) and bench/README.md.

/** Writes the report `md` (and the profiles' tables) where `o` says, and refreshes the README's table. */
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
  // A full default run also refreshes the table in bench/README.md.
  if (!o.quick && o.only === undefined && o.out === undefined) updateReadme(md)
}

function updateReadme(md: string): void {
  const file = path.join(BENCH_DIR, 'README.md')
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return
  }
  const start = '<!-- latest:start -->'
  const end = '<!-- latest:end -->'
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a < 0 || b < a) return
  fs.writeFileSync(file, `${text.slice(0, a + start.length)}\n${readmeBlock(md)}\n${text.slice(b)}`)
}

/** The report's tables for the README: everything before the missed targets, profiles and machine. */
export function readmeBlock(md: string): string {
  const body = md.replace(/^# .*\n/, '')
  const cut = body.search(/^## (Missed targets|Profiles|Probe failures|Machine)/m)
  return `${(cut < 0 ? body : body.slice(0, cut)).trim()}\n\nMissed targets with their profiles, the machine, versions and exact commands: [results/latest.md](results/latest.md).`
}
