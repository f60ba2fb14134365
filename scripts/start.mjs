// `npm start` and the other run scripts: build what the entry needs, only when it
// is out of date, then run the entry in this process.
//
//   node scripts/start.mjs [--project DIR] [--check] <entry> [args...]
//
// The project to build is DIR, else the nearest directory above the entry with a
// tsconfig.json. scripts/build-status.mjs decides whether `tsc -b <project>` is
// needed (modification times of the sources and configs against the tsbuildinfo
// files, over the project and its references); when it is, this prints what
// changed and how long the build took:
//
//   cachet: packages/core/src/errors.ts changed since the last build
//   cachet: building (tsc -b examples/express-shop)…
//   cachet: built in 4.2 s
//
// and otherwise `cachet: dist/ is current, not rebuilding`. A failed build ends
// here with tsc's exit status. The entry then runs as the main module of this
// same process (require.main === module, process.argv = [node, entry, ...args]),
// so that signals reach it as they would reach `node <entry>`.
//
// --check only reports: exit status 0 when dist/ is current, 1 when a build is due.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const log = (line) => process.stderr.write(`cachet: ${line}\n`)

function usage() {
  process.stderr.write(
    'usage: node scripts/start.mjs [--project DIR] [--check] <entry> [args...]\n',
  )
  process.exit(2)
}

const argv = process.argv.slice(2)
let project
let check = false
while (argv[0]?.startsWith('--')) {
  const flag = argv.shift()
  if (flag === '--check') check = true
  else if (flag === '--project' && argv[0] !== undefined) project = argv.shift()
  else usage()
}
const entry = argv.shift()
if (entry === undefined) usage()
const args = argv

/** The nearest directory from the entry up to the working directory with a tsconfig.json. */
function projectOf(file) {
  const top = process.cwd()
  let dir = path.dirname(path.resolve(file))
  for (;;) {
    if (fs.existsSync(path.join(dir, 'tsconfig.json'))) return path.relative(top, dir) || '.'
    if (dir === top || path.dirname(dir) === dir) return '.'
    dir = path.dirname(dir)
  }
}

project ??= projectOf(entry)
const tscArgs = project === '.' ? '-b' : `-b ${project}`

function status() {
  const r = spawnSync(process.execPath, [path.join(here, 'build-status.mjs'), project, entry], {
    encoding: 'utf8',
  })
  try {
    if (r.status === 0) return JSON.parse(r.stdout)
  } catch {}
  // Could not tell (a broken tsconfig, say): build, and let tsc report it.
  return {
    current: false,
    reason: `cannot tell whether dist/ is current: ${(r.stderr || r.stdout).trim()}`,
    clear: [],
  }
}

const s = status()
if (s.current) {
  log('dist/ is current, not rebuilding')
  if (check) process.exit(0)
} else {
  log(s.reason)
  if (check) {
    log(`would build (tsc ${tscArgs})`)
    process.exit(1)
  }
  for (const file of s.clear) fs.rmSync(file, { force: true })
  log(`building (tsc ${tscArgs})…`)
  const started = performance.now()
  const tsc = require.resolve('typescript/bin/tsc')
  const r = spawnSync(process.execPath, [tsc, '-b', ...(project === '.' ? [] : [project])], {
    stdio: 'inherit',
  })
  if (r.status !== 0) {
    log(`build failed (tsc ${tscArgs}${r.signal ? `, ${r.signal}` : `, exit status ${r.status}`})`)
    process.exit(r.status || 1)
  }
  log(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

process.argv = [process.argv[0], path.resolve(entry), ...args]
require('node:module').runMain()
