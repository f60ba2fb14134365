#!/usr/bin/env node
// Adds the platform-specific optional packages that `npm install` (npm 11.19 as
// shipped on our machines) leaves out of package-lock.json while `npm ci`
// insists on them ("Missing: @swc/core-darwin-x64@ from lock file"). For each
// optional dependency named by a package in the lock but absent from it, this
// writes the entry npm would have written (version, integrity, os, cpu, libc),
// read from the registry with `npm view`. Run it after changing dependencies:
//   npm install && node scripts/complete-lockfile.js

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const lockPath = path.join(__dirname, '..', 'package-lock.json')
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'))
const packages = lock.packages
let added = 0

// The registry we reach may not serve other platforms' binaries at all (404):
// then the entry records the name and version only, marked optional, which is
// all `npm ci` needs to accept the lock and skip the package on this platform.
function registryInfo(name, range) {
  try {
    const out = execFileSync(
      'npm',
      [
        'view',
        `${name}@${range}`,
        '--json',
        'version',
        'dist.integrity',
        'os',
        'cpu',
        'libc',
        'license',
        'engines',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    )
    const view = JSON.parse(out)
    return Array.isArray(view) ? view[view.length - 1] : view
  } catch {
    return { version: range, ...platformGuess(name) }
  }
}

// Names like `@swc/core-darwin-arm64` or `@biomejs/cli-linux-x64-musl` say their platform.
function platformGuess(name) {
  const os = ['android', 'darwin', 'freebsd', 'linux', 'openharmony', 'win32'].find((o) =>
    name.includes(`-${o}-`),
  )
  const cpu = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64'].find((c) =>
    new RegExp(`-${c}(-|$)`).test(name),
  )
  const out = {}
  if (os) out.os = [os]
  if (cpu) out.cpu = [cpu]
  if (/-musl/.test(name)) out.libc = ['musl']
  else if (os === 'linux') out.libc = ['glibc']
  return out
}

for (const [where, meta] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const base = where === '' ? '' : `${where}/`
    const nested = `${base}node_modules/${name}`
    const hoisted = `node_modules/${name}`
    if (packages[nested] || packages[hoisted]) continue
    const info = registryInfo(name, range)
    const entry = { version: info.version }
    if (info['dist.integrity']) entry.integrity = info['dist.integrity']
    if (meta.dev) entry.dev = true
    entry.optional = true
    if (info.license) entry.license = info.license
    for (const field of ['cpu', 'os', 'libc']) if (info[field]) entry[field] = info[field]
    if (info.engines) entry.engines = info.engines
    packages[hoisted] = entry
    added++
  }
}

const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
)
lock.packages = sorted
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`complete-lockfile: added ${added} optional platform packages`)
