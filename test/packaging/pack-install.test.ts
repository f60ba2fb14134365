import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'

// The packages as a user gets them: `npm pack` every package (its `prepack`
// builds it), install the tarballs into a fresh app in a temp dir outside the
// repository, then type-check and run three apps there, as a user would write
// them: ESM + `moduleResolution: nodenext`, CommonJS + `moduleResolution:
// node` (subpaths like `@cachet/core/redis` resolve through `typesVersions`),
// and plain JavaScript. Each app serves a route twice and prints how many
// times the route ran. The Fastify apps (ESM and CommonJS) also invalidate,
// through app.cache and request.cache, and register a rule with a typo.

const root = join(__dirname, '..', '..')
const packages = ['core', 'express', 'koa', 'fastify', 'cli']
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

/** The version the repository itself tests with, so the install is served from npm's cache. */
function version(name: string): string {
  return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version
}

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 240_000,
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`,
    )
  }
}

// Listens on a free loopback port, requests GET /hello twice, prints the
// route's count and the X-Cache of each answer, and closes.
const serveTwice = `const server = app.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as { port: number }
  const seen: string[] = []
  for (let i = 0; i < 2; i++) {
    const res = await fetch(\`http://127.0.0.1:\${port}/hello\`)
    await res.text()
    seen.push(String(res.headers.get('x-cache')))
  }
  console.log(JSON.stringify({ calls, seen }))
  await cache.close()
  server.close()
})
`

// Serves GET /hello twice through cacheMiddleware and prints the route's count.
const expressApp = (imports: string, exportsLine = '') => `${imports}

const app = express()
let calls = 0
const rules: CacheRule[] = [{ path: '/hello', ttl: '1m' }]
const cache = cacheMiddleware(rules)
app.use(cache)
app.get('/hello', (_req, res) => {
  calls++
  res.json({ hello: 'world' })
})
${serveTwice}${exportsLine}`

// Registers cachePlugin, then GET /hello twice (MISS, HIT), once after
// app.cache.invalidate and once after a route's request.cache.invalidate; then
// registers a rule with a typo, which must fail. Prints, for each GET, its
// X-Cache and the route's count so far, and the error.
const fastifyApp = (imports: string) => `${imports}

async function main(): Promise<void> {
  const app = Fastify()
  await app.register(cachePlugin, { rules: [{ path: '/hello', ttl: '1m', tags: ['hello'] }] })
  let calls = 0
  app.get('/hello', async () => {
    calls++
    return { hello: 'fastify' }
  })
  app.post('/hello/changed', async (request) => {
    await request.cache.invalidate({ tags: ['hello'] })
    return { ok: true }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = \`http://127.0.0.1:\${(app.server.address() as AddressInfo).port}\`
  const seen: [string, number][] = []
  const get = async () => {
    const res = await fetch(\`\${url}/hello\`)
    await res.text()
    seen.push([String(res.headers.get('x-cache')), calls])
  }
  await get()
  await get()
  await app.cache.invalidate({ tags: ['hello'] })
  await get()
  await (await fetch(\`\${url}/hello/changed\`, { method: 'POST' })).text()
  await get()
  await app.close()

  const typo = Fastify()
  let error = 'no error'
  try {
    // @ts-expect-error: the types see the typo too
    await typo.register(cachePlugin, { rules: [{ path: '/x', tll: '5m' }] })
    await typo.ready()
  } catch (err) {
    error = err instanceof CachetConfigError ? \`\${err.code}: \${err.message}\` : String(err)
  }
  await typo.close()
  console.log(JSON.stringify({ seen, error }))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
`

const files: Record<string, string> = {
  // ESM + nodenext: the root and a subpath through `exports`.
  'esm/package.json': JSON.stringify({ type: 'module' }),
  'esm/tsconfig.json': JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      // As `tsc --init` writes it: @types/koa does not check against content-disposition 1.x.
      skipLibCheck: true,
      outDir: 'dist',
      types: ['node'],
    },
    include: ['*.ts'],
  }),
  'esm/app.ts': expressApp(
    [
      "import express from 'express'",
      "import { type CacheRule, cacheMiddleware } from '@cachet/express'",
      "import { redisTier } from '@cachet/core/redis'",
      "import { keyvTier } from '@cachet/core/keyv'",
      "import { fastlyPurger } from '@cachet/core/cdn'",
      'export type Tiers = [typeof redisTier, typeof keyvTier, typeof fastlyPurger]',
    ].join('\n'),
  ),
  'esm/koa.ts': `import Koa from 'koa'
import { cacheMiddleware, type CacheRule } from '@cachet/koa'

const rules: CacheRule[] = [{ path: '/hello', ttl: '1m' }]
const app = new Koa()
let calls = 0
const cache = cacheMiddleware(rules)
app.use(cache)
app.use((ctx) => {
  calls++
  ctx.body = { hello: 'koa' }
})
${serveTwice}`,
  'esm/fastify.ts': fastifyApp(
    [
      "import type { AddressInfo } from 'node:net'",
      "import Fastify from 'fastify'",
      "import { CachetConfigError, cachePlugin } from '@cachet/fastify'",
    ].join('\n'),
  ),
  // CommonJS + the classic `node` resolution, which ignores `exports`.
  'cjs/package.json': JSON.stringify({ type: 'commonjs' }),
  'cjs/tsconfig.json': JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'commonjs',
      moduleResolution: 'node',
      esModuleInterop: true,
      strict: true,
      outDir: 'dist',
      types: ['node'],
    },
    include: ['*.ts'],
  }),
  'cjs/app.ts': expressApp(
    [
      "import express = require('express')",
      "import { type CacheRule, cacheMiddleware } from '@cachet/express'",
      "import type { redisTier } from '@cachet/core/redis'",
      "import type { keyvTier } from '@cachet/core/keyv'",
      "import type { prometheusMetrics } from '@cachet/core/prometheus'",
      "import type { createAdmin } from '@cachet/core/admin'",
      "import type { handleRequest } from '@cachet/core/adapter'",
      "import type { foldTag } from '@cachet/core/cdn'",
      'export type Entries = [typeof redisTier, typeof keyvTier, typeof prometheusMetrics, typeof createAdmin, typeof handleRequest, typeof foldTag]',
    ].join('\n'),
  ),
  'cjs/fastify.ts': fastifyApp(
    [
      "import type { AddressInfo } from 'node:net'",
      "import Fastify from 'fastify'",
      "import { CachetConfigError, cachePlugin } from '@cachet/fastify'",
    ].join('\n'),
  ),
  // Plain JavaScript, no build step.
  'js/app.cjs': `const express = require('express')
const { cacheMiddleware } = require('@cachet/express')
const { redisTier } = require('@cachet/core/redis')
if (typeof redisTier !== 'function') throw new Error('@cachet/core/redis has no redisTier')
${expressApp('')
  .replace('const rules: CacheRule[] =', 'const rules =')
  .replace('server.address() as { port: number }', 'server.address()')
  .replace('const seen: string[] = []', 'const seen = []')}`,
}

describe('the packages, packed and installed into a fresh app outside the repository', () => {
  let dir: string
  let tarballs: Record<string, string>

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cachet-pack-'))
    const packs = join(dir, 'tarballs')
    mkdirSync(packs)
    tarballs = {}
    for (const name of packages) {
      const out = run(
        npm,
        ['pack', '--silent', '--json', '--pack-destination', packs],
        join(root, 'packages', name),
      )
      const [info] = JSON.parse(out) as [{ filename: string }]
      tarballs[name] = join(packs, info.filename)
    }
    const app = join(dir, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true }))
    run(
      npm,
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        ...packages.map((name) => tarballs[name] as string),
        `express@${version('express')}`,
        `koa@${version('koa')}`,
        // @cachet/fastify's peer; fastify-plugin, a dependency, comes with the tarball's install.
        `fastify@${version('fastify')}`,
        // The optional peers, as a user of the Redis, Keyv and Prometheus entry points installs them.
        `ioredis@${version('ioredis')}`,
        `keyv@${version('keyv')}`,
        `prom-client@${version('prom-client')}`,
        `@types/express@${version('@types/express')}`,
        `@types/koa@${version('@types/koa')}`,
        `@types/node@${version('@types/node')}`,
      ],
      app,
    )
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(app, file, '..'), { recursive: true })
      writeFileSync(join(app, file), text)
    }
  }, 600_000)

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const app = () => join(dir, 'app')
  const served = (out: string) => JSON.parse(out.trim().split('\n').at(-1) as string)
  // Each app project (esm, cjs) is type-checked and compiled once, by the first test that runs it.
  const compiled = new Set<string>()
  const compile = (project: string) => {
    if (compiled.has(project)) return
    run(process.execPath, [tsc, '-p', project], app())
    compiled.add(project)
  }
  const fastifyServed = {
    seen: [
      ['MISS', 1],
      ['HIT', 1],
      ['MISS', 2],
      ['MISS', 3],
    ],
    error: 'CACHET_INVALID_RULE: rules[0] (/x): unknown option "tll" (did you mean "ttl"?)',
  }

  it('ships README, LICENSE, the built code, and the sources its source maps point to', () => {
    for (const name of packages) {
      const listing = run('tar', ['-tzf', tarballs[name] as string], dir)
        .split('\n')
        .filter(Boolean)
        .map((f) => f.replace(/^package\//, ''))
      const entries = new Set(listing)
      expect([name, entries.has('README.md'), entries.has('LICENSE')]).toEqual([name, true, true])
      expect(listing.some((f) => f.startsWith('dist/') && f.endsWith('.js'))).toBe(true)
      const pkg = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'))
      expect(pkg.repository).toBeDefined()
      expect(pkg.engines?.node).toMatch(/>=\s*20/)
      expect(pkg.keywords?.length).toBeGreaterThan(0)
      expect(pkg.scripts?.prepack).toBeDefined()
      // Every source map's sources are in the tarball.
      const maps = listing.filter((f) => f.endsWith('.map'))
      expect(maps.length).toBeGreaterThan(0)
      const extracted = join(dir, `x-${name}`)
      mkdirSync(extracted)
      run('tar', ['-xzf', tarballs[name] as string, '-C', extracted], dir)
      const missing: string[] = []
      for (const map of maps) {
        const { sources } = JSON.parse(readFileSync(join(extracted, 'package', map), 'utf8')) as {
          sources: string[]
        }
        for (const source of sources) {
          const file = relative(
            join(extracted, 'package'),
            resolve(extracted, 'package', dirname(map), source),
          )
          if (!entries.has(file)) missing.push(`${name}: ${map} -> ${source}`)
        }
      }
      expect(missing).toEqual([])
    }
  })

  it('type-checks and runs an ESM app (moduleResolution nodenext), Express and Koa', () => {
    compile('esm')
    const express = served(run(process.execPath, ['esm/dist/app.js'], app()))
    expect(express).toEqual({ calls: 1, seen: ['MISS', 'HIT'] })
    const koa = served(run(process.execPath, ['esm/dist/koa.js'], app()))
    expect(koa).toEqual({ calls: 1, seen: ['MISS', 'HIT'] })
  })

  it('type-checks and runs a CommonJS app (moduleResolution node, subpaths through typesVersions)', () => {
    compile('cjs')
    const out = served(run(process.execPath, ['cjs/dist/app.js'], app()))
    expect(out).toEqual({ calls: 1, seen: ['MISS', 'HIT'] })
  })

  it('type-checks and runs a Fastify app, ESM: a HIT, invalidation, a typo refused by name', () => {
    compile('esm')
    const out = served(run(process.execPath, ['esm/dist/fastify.js'], app()))
    expect(out).toEqual(fastifyServed)
  })

  it('type-checks and runs a Fastify app, CommonJS (moduleResolution node)', () => {
    compile('cjs')
    const out = served(run(process.execPath, ['cjs/dist/fastify.js'], app()))
    expect(out).toEqual(fastifyServed)
  })

  it('installs @cachet/fastify with one copy of @cachet/core, and fastify-plugin', () => {
    const pkg = (name: string) =>
      JSON.parse(readFileSync(join(app(), 'node_modules', name, 'package.json'), 'utf8'))
    expect(pkg('@cachet/fastify').peerDependencies).toEqual({ fastify: expect.any(String) })
    expect(pkg('fastify-plugin').version).toMatch(/^5\./)
    // A nested copy would be a second engine, with its own CachetConfigError class.
    const nested = join(app(), 'node_modules', '@cachet', 'fastify', 'node_modules', '@cachet')
    expect(existsSync(nested)).toBe(false)
  })

  it('runs a plain JavaScript app', () => {
    const out = served(run(process.execPath, ['js/app.cjs'], app()))
    expect(out).toEqual({ calls: 1, seen: ['MISS', 'HIT'] })
  })

  it('installs the cli as a working `cachet` command', () => {
    const bin = readdirSync(join(app(), 'node_modules', '.bin'))
    expect(bin).toContain('cachet')
    const help = run(join(app(), 'node_modules', '.bin', 'cachet'), ['--help'], app())
    expect(help).toMatch(/stats/)
  })
})
