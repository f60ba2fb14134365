// npm run conformance: runs the public HTTP caching test suite (http-tests/cache-tests,
// published on npm as `http-cache-tests`) against examples/express-gateway — one
// origin-driven rule — and prints the tally beside the results the suite ships for
// other caches (Apache, nginx, Squid, Traffic Server, Varnish, Fastly, browsers).
//
// The suite is fetched into a temporary directory at run time (npm registry access
// needed), never into the project. Its origin server and the gateway listen on
// 127.0.0.1 only; both are stopped by pid (or closed) at the end. One run takes
// about half a minute. Writes bench/results/conformance.md.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SUITE = 'http-cache-tests@0.4.5'
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const dir = path.join(os.tmpdir(), `cachet-conformance-${SUITE.replace(/[@/]/g, '-')}`)

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`)
  return r.stdout
}

/** The suite, unpacked once; only its client's one dependency is installed. */
function fetchSuite() {
  if (fs.existsSync(path.join(dir, 'ready'))) return
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const tarball = run('npm', ['pack', SUITE, '--silent', '--pack-destination', dir], dir).trim()
  run('tar', ['-xzf', tarball, '--strip-components=1'], dir)
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  pkg.dependencies = {}
  pkg.devDependencies = {}
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2))
  run('npm', ['install', '--silent', '--no-audit', '--no-fund', 'node-fetch@2'], dir)
  // The suite's origin listens on every interface; this preload keeps it on loopback.
  fs.writeFileSync(
    path.join(dir, 'loopback.cjs'),
    `const net = require('node:net')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (port, host, ...rest) {
  return typeof host === 'string' ? listen.call(this, port, '127.0.0.1', ...rest) : listen.call(this, port, '127.0.0.1', host, ...rest)
}
`,
  )
  fs.writeFileSync(path.join(dir, 'ready'), '')
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function waitFor(url, ms) {
  const until = Date.now() + ms
  for (;;) {
    try {
      await fetch(url)
      return
    } catch (err) {
      if (Date.now() > until) throw new Error(`${url} did not answer: ${err.message}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** The suite's own result categories, dependencies counted as cache-tests.fyi does. */
function tally(tests, results) {
  const byId = {}
  for (const suite of tests) for (const t of suite.tests) byId[t.id] = t
  const outcome = (id) => {
    const t = byId[id]
    const r = results[id]
    if (r === undefined) return 'untested'
    for (const dep of t.depends_on ?? [])
      if (!['pass', 'yes'].includes(outcome(dep))) return 'dependency_fail'
    if (Array.isArray(r) && r[0] === 'Setup') return r[1] === 'retry' ? 'retry' : 'setup_fail'
    if (Array.isArray(r) && r[0] !== 'Assertion') return 'harness_fail'
    const kind = t.kind ?? 'required'
    if (kind === 'check') return r === true ? 'yes' : 'no'
    if (r === true) return 'pass'
    return kind === 'optimal' ? 'optional_fail' : 'fail'
  }
  const counts = {}
  const failed = []
  const missed = []
  for (const id of Object.keys(byId)) {
    if (byId[id].browser_only) continue
    const o = outcome(id)
    counts[o] = (counts[o] ?? 0) + 1
    if (o === 'fail' || o === 'harness_fail')
      failed.push(`${id} (${o}): ${JSON.stringify(results[id])}`)
    else if (o === 'optional_fail' || o === 'dependency_fail' || o === 'setup_fail')
      missed.push(`${id} (${o})`)
  }
  return { counts, failed, missed }
}

async function main() {
  fetchSuite()
  const originPort = await freePort()
  const origin = spawn(
    process.execPath,
    ['--require', path.join(dir, 'loopback.cjs'), path.join(dir, 'server/server.mjs')],
    {
      cwd: dir,
      env: {
        ...process.env,
        npm_config_protocol: 'http',
        npm_config_port: String(originPort),
        npm_config_pidfile: path.join(dir, 'server.pid'),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  const { createGateway } = require(path.join(root, 'examples/express-gateway/dist/app.js'))
  // The suite's origin numbers each request of a test by this header.
  const gateway = createGateway({
    originUrl: `http://127.0.0.1:${originPort}`,
    passHeaders: ['req-num'],
  })
  const server = await new Promise((resolve) => {
    const s = gateway.app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const base = `http://127.0.0.1:${server.address().port}`
  let output
  try {
    await waitFor(`http://127.0.0.1:${originPort}/`, 10_000)
    // Asynchronously: the gateway answers from this very process.
    output = await new Promise((resolve, reject) => {
      const cli = spawn(process.execPath, ['--no-warnings', 'cli.mjs'], {
        cwd: dir,
        env: { ...process.env, npm_config_base: base, npm_package_config_id: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const out = []
      const err = []
      cli.stdout.on('data', (c) => out.push(c))
      cli.stderr.on('data', (c) => err.push(c))
      const timer = setTimeout(() => cli.kill(), 300_000)
      cli.on('close', (code) => {
        clearTimeout(timer)
        if (code === 0) resolve(Buffer.concat(out).toString())
        else reject(new Error(`the suite's client failed (${code}): ${Buffer.concat(err)}`))
      })
    })
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await gateway.close()
    origin.kill()
  }
  const results = JSON.parse(output)
  const { default: tests } = await import(pathToFileURL(path.join(dir, 'tests/index.mjs')).href)
  const columns = [
    'pass',
    'fail',
    'optional_fail',
    'yes',
    'no',
    'setup_fail',
    'dependency_fail',
    'retry',
    'harness_fail',
    'untested',
  ]
  const rows = [['cachet (this run)', tally(tests, results)]]
  for (const file of fs.readdirSync(path.join(dir, 'results')).sort()) {
    if (!file.endsWith('.json') || file === 'index.mjs') continue
    const published = JSON.parse(fs.readFileSync(path.join(dir, 'results', file), 'utf8'))
    rows.push([`${file.replace(/\.json$/, '')} (published)`, tally(tests, published)])
  }
  const lines = [
    `# HTTP caching test suite (${SUITE}) against examples/express-gateway`,
    '',
    `Run ${new Date().toISOString()}, Node ${process.version}. Non-browser tests only; a test whose`,
    'dependency did not pass counts as dependency_fail, as on cache-tests.fyi. Published rows are',
    'the results files that ship with the suite, tallied the same way.',
    '',
    `| implementation | ${columns.join(' | ')} |`,
    `| --- |${columns.map(() => ' ---: |').join('')}`,
    ...rows.map(([name, t]) => `| ${name} | ${columns.map((c) => t.counts[c] ?? 0).join(' | ')} |`),
    '',
    'Required tests cachet fails (and harness errors):',
    '',
    ...rows[0][1].failed.map((f) => `- ${f}`),
    '',
    'Optional tests cachet does not pass, and tests not run for a failed setup or dependency:',
    '',
    ...rows[0][1].missed.map((f) => `- ${f}`),
    '',
  ]
  const text = lines.join('\n')
  process.stdout.write(text)
  const out = path.join(root, 'bench/results/conformance.md')
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, text)
  console.log(`\nwritten to ${path.relative(root, out)}`)
}

main().catch((err) => {
  console.error(`conformance: ${err.message}`)
  process.exit(1)
})
