// Is `tsc -b <project>` needed? The freshness check behind scripts/start.mjs.
//
//   node scripts/build-status.mjs <project dir or tsconfig> [entry]
//
// Prints one line of JSON: { current, reason?, clear, project } where `reason`
// names the first thing found out of date and `clear` lists the tsbuildinfo files
// to delete before building (see below). It compares modification times, as
// `tsc -b` does, over the project and every project it references:
//
// - a project that has no tsbuildinfo yet was never built;
// - an input (the tsconfig, the configs it extends, every file it includes) newer
//   than the project's tsbuildinfo is a change since the last build;
// - a referenced project's tsbuildinfo newer than the project's means the reference
//   was rebuilt alone (`tsc -b` then rechecks the project and touches its tsbuildinfo).
//
// `tsc -b` trusts a tsbuildinfo even when the outputs are gone: an outDir that was
// deleted (or an entry file missing from it) would never be rebuilt. Those projects'
// tsbuildinfo files are listed in `clear`, for start.mjs to remove first.
//
// A separate process from start.mjs so that the program it starts never carries
// the TypeScript compiler in its memory.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const ts = require('typescript')

const cwd = process.cwd()
const rel = (p) => path.relative(cwd, p).split(path.sep).join('/') || '.'

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs
  } catch {
    return undefined
  }
}

function configPathOf(p) {
  const abs = path.resolve(cwd, p)
  return fs.existsSync(abs) && fs.statSync(abs).isDirectory()
    ? path.join(abs, 'tsconfig.json')
    : abs
}

function parse(configPath) {
  const host = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    },
  }
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, host)
  if (!parsed) throw new Error(`cannot read ${rel(configPath)}`)
  const { options } = parsed
  // tsc -b writes a tsbuildinfo for every project it builds, composite or not.
  const buildInfo =
    parsed.fileNames.length === 0
      ? undefined
      : ts.getTsBuildInfoEmitOutputFilePath({ ...options, incremental: true })
  const inputs = [
    configPath,
    ...(options.configFile?.extendedSourceFiles ?? []),
    ...parsed.fileNames,
  ]
  const outDir = options.noEmit ? undefined : options.outDir
  const references = (parsed.projectReferences ?? []).map((r) => ts.resolveProjectReferencePath(r))
  return { configPath, buildInfo, inputs, outDir, references }
}

/** The project and everything it references, dependencies first. */
function closure(configPath) {
  const seen = new Set()
  const order = []
  const visit = (p) => {
    if (seen.has(p)) return
    seen.add(p)
    const project = parse(p)
    for (const r of project.references) visit(r)
    order.push(project)
  }
  visit(configPath)
  return order
}

export function buildStatus(projectArg, entryArg) {
  const root = configPathOf(projectArg)
  const projects = closure(root)
  const entry = entryArg === undefined ? undefined : path.resolve(cwd, entryArg)
  const clear = []
  let reason
  const stale = (why) => {
    reason ??= why
  }
  const built = new Map()
  for (const p of projects) {
    if (p.buildInfo === undefined) continue
    const builtAt = mtime(p.buildInfo)
    built.set(p.configPath, builtAt)
    if (builtAt === undefined) {
      stale(`${rel(path.dirname(p.configPath))} was never built`)
      continue
    }
    if (p.outDir !== undefined) {
      const outMissing = !fs.existsSync(p.outDir)
      const entryMissing =
        entry !== undefined && entry.startsWith(p.outDir + path.sep) && !fs.existsSync(entry)
      if (outMissing || entryMissing) {
        stale(`${rel(outMissing ? p.outDir : entry)} is missing`)
        clear.push(p.buildInfo)
        continue
      }
    }
    for (const input of p.inputs) {
      const t = mtime(input)
      if (t === undefined || t > builtAt) {
        stale(`${rel(input)} ${t === undefined ? 'is gone' : 'changed'} since the last build`)
        break
      }
    }
    for (const r of p.references) {
      const t = built.get(r)
      if (t !== undefined && t > builtAt) {
        stale(`${rel(path.dirname(r))} was rebuilt after ${rel(path.dirname(p.configPath))}`)
        break
      }
    }
  }
  return {
    project: rel(root),
    current: reason === undefined,
    ...(reason === undefined ? {} : { reason }),
    clear: clear.map(rel),
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [project, entry] = process.argv.slice(2)
  if (project === undefined) {
    process.stderr.write('usage: node scripts/build-status.mjs <project dir or tsconfig> [entry]\n')
    process.exit(2)
  }
  process.stdout.write(`${JSON.stringify(buildStatus(project, entry))}\n`)
}
