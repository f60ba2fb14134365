import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

// `npm start` and co (scripts/start.mjs): build only when dist/ is out of date, and
// say so. Exercised on a two-project fixture (app references lib) in a temporary
// directory, so that no build of the repository's own projects happens here; and,
// on the repository itself, only the read-only --check, then the Express and
// Fastify shops started through their scripts when dist/ is current (stopped by pid).

const root = path.resolve(__dirname, '..', '..')
const start = path.join(root, 'scripts', 'start.mjs')

interface Run {
  status: number | null
  out: string
  err: string
}

let dir: string

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
  fs.writeFileSync(path.join(dir, file), text)
}

/** Sets a file's mtime to now, later than any build so far. */
function touch(file: string): void {
  const now = new Date()
  fs.utimesSync(path.join(dir, file), now, now)
}

function run(...args: string[]): Run {
  const r = spawnSync(process.execPath, [start, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: r.status, out: r.stdout, err: r.stderr }
}

const mtime = (file: string) => fs.statSync(path.join(dir, file)).mtimeMs

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cachet-start-'))
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2022'],
    module: 'commonjs',
    moduleResolution: 'node10',
    strict: true,
    composite: true,
    types: [],
  }
  write('tsconfig.base.json', JSON.stringify({ compilerOptions }, null, 2))
  const project = (references: string[]) =>
    JSON.stringify({
      extends: '../tsconfig.base.json',
      compilerOptions: { rootDir: 'src', outDir: 'dist' },
      include: ['src'],
      references: references.map((p) => ({ path: p })),
    })
  write('lib/tsconfig.json', project([]))
  write('lib/src/index.ts', "export const greeting: string = 'hello'\n")
  write('app/tsconfig.json', project(['../lib']))
  write(
    'app/src/main.ts',
    [
      "import { greeting } from '../../lib/dist/index'",
      "console.log(`main ran: ${greeting} [${process.argv.slice(2).join(',')}] main=${require.main === module}`)",
      '',
    ].join('\n'),
  )
  // No @types/node in the fixture: the few globals main.ts uses.
  write(
    'app/src/globals.d.ts',
    [
      'declare var console: { log(...args: unknown[]): void }',
      'declare var process: { argv: string[] }',
      'declare var require: { main: unknown }',
      'declare var module: unknown',
      '',
    ].join('\n'),
  )
})

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe('scripts/start.mjs on a fixture', () => {
  it('builds on the first run (no dist yet), reporting progress, then runs the entry as main', () => {
    const r = run('app/dist/main.js', 'a', 'b')
    expect(r.err).toContain('cachet: lib was never built')
    expect(r.err).toContain('cachet: building (tsc -b app)…')
    expect(r.err).toMatch(/cachet: built in \d+\.\d s/)
    expect(r.out).toContain('main ran: hello [a,b] main=true')
    expect(r.status).toBe(0)
  })

  it('skips the build when nothing changed', () => {
    const built = mtime('app/tsconfig.tsbuildinfo')
    const r = run('app/dist/main.js')
    expect(r.err).toContain('cachet: dist/ is current, not rebuilding')
    expect(r.err).not.toContain('building (tsc')
    expect(r.out).toContain('main ran: hello [] main=true')
    expect(mtime('app/tsconfig.tsbuildinfo')).toBe(built)
  })

  it('--check reports a touched source of a referenced project, and builds nothing', () => {
    touch('lib/src/index.ts')
    const built = mtime('lib/tsconfig.tsbuildinfo')
    const r = run('--check', 'app/dist/main.js')
    expect(r.status).toBe(1)
    expect(r.err).toContain('cachet: lib/src/index.ts changed since the last build')
    expect(r.err).toContain('cachet: would build (tsc -b app)')
    expect(r.out).toBe('')
    expect(mtime('lib/tsconfig.tsbuildinfo')).toBe(built)
  })

  it('rebuilds after a source changed, then is current again', () => {
    write('lib/src/index.ts', "export const greeting: string = 'bonjour'\n")
    touch('lib/src/index.ts')
    const r = run('app/dist/main.js')
    expect(r.err).toContain('cachet: lib/src/index.ts changed since the last build')
    expect(r.err).toMatch(/cachet: built in \d+\.\d s/)
    expect(r.out).toContain('main ran: bonjour')
    const again = run('--check', 'app/dist/main.js')
    expect(again.err).toContain('cachet: dist/ is current, not rebuilding')
    expect(again.status).toBe(0)
  })

  it('rebuilds after a tsconfig (or a config it extends) changed', () => {
    touch('tsconfig.base.json')
    const r = run('app/dist/main.js')
    expect(r.err).toContain('cachet: tsconfig.base.json changed since the last build')
    expect(r.err).toContain('cachet: building (tsc -b app)…')
    expect(r.status).toBe(0)
    touch('app/tsconfig.json')
    expect(run('--check', 'app/dist/main.js').err).toContain(
      'cachet: app/tsconfig.json changed since the last build',
    )
    expect(run('app/dist/main.js').status).toBe(0)
  })

  it('rebuilds a deleted dist/ (which tsc -b alone would take for current)', () => {
    fs.rmSync(path.join(dir, 'app', 'dist'), { recursive: true })
    const r = run('app/dist/main.js')
    expect(r.err).toContain('cachet: app/dist is missing')
    expect(r.err).toMatch(/cachet: built in/)
    expect(r.out).toContain('main ran: bonjour')
    expect(r.status).toBe(0)
  })

  it('stops with the compiler status when the build fails, without running the entry', () => {
    write('lib/src/index.ts', 'export const greeting: string = 42\n')
    touch('lib/src/index.ts')
    const r = run('app/dist/main.js')
    expect(r.status).not.toBe(0)
    expect(r.out + r.err).toContain('TS2322')
    expect(r.err).toContain('cachet: build failed (tsc -b app, exit status')
    expect(r.out).not.toContain('main ran')
  })
})

describe('scripts/start.mjs in the repository', () => {
  it('is what npm start and the other run scripts use', () => {
    const { scripts } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
    for (const name of [
      'start',
      'start:express',
      'start:koa',
      'start:fastify',
      'start:gateway',
      'bench',
      'conformance',
    ]) {
      expect(scripts[name]).toMatch(/^node scripts\/start\.mjs /)
    }
  })

  it.each([
    ['start', 'express-shop'],
    ['start:fastify', 'fastify-shop'],
  ])(
    'npm run %s starts the %s without rebuilding when dist/ is current',
    async (script, shop) => {
      const { scripts } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
      const entry = `examples/${shop}/dist/main.js`
      expect(scripts[script]).toBe(`node scripts/start.mjs ${entry}`)
      const check = spawnSync(process.execPath, [start, '--check', entry], {
        cwd: root,
        encoding: 'utf8',
      })
      expect(check.stderr).toMatch(
        new RegExp(
          `cachet: dist/ is current, not rebuilding|cachet: would build \\(tsc -b examples/${shop}\\)`,
        ),
      )
      if (check.status !== 0) {
        // Sources edited since the last build: building here could rewrite dist/
        // under the other test files. Nothing more to check.
        return
      }
      // Only what the shop needs: no REDIS_URL, admin token or the like from the caller.
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1' }
      const child: ChildProcess = spawn(process.execPath, [start, entry], {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => resolve(code)),
      )
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 15_000)
          const onData = (d: Buffer) => {
            output += d.toString()
            if (/listening on http:\/\/\S+/.test(output)) {
              clearTimeout(timer)
              resolve()
            }
          }
          child.stdout?.on('data', onData)
          child.stderr?.on('data', onData)
          child.on('exit', () => reject(new Error(`exited before listening:\n${output}`)))
        })
        expect(output).toContain('cachet: dist/ is current, not rebuilding')
        expect(output).not.toContain('building (tsc')
      } finally {
        // One process: the script runs the shop in itself, so its pid is the shop's.
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM')
      }
      const killer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
      }, 10_000)
      expect(await exited).toBe(0)
      clearTimeout(killer)
    },
    30_000,
  )
})
