import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

// The benchmark is for people and CI logs; this only keeps it from rotting:
// `bench --quick` must run every phase and print its report. No timing assertion.

const root = path.resolve(__dirname, '..')
const runner = path.join(root, 'bench', 'dist', 'run.js')

function run(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runner, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    // The runner stops its own children on SIGTERM.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

describe('bench --quick', () => {
  beforeAll(() => {
    // `npm test` builds first; a bare `npx jest` may not have.
    if (!fs.existsSync(runner)) {
      const tsc = spawnSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-b', 'bench'],
        {
          cwd: root,
          stdio: 'inherit',
        },
      )
      if (tsc.status !== 0) throw new Error('tsc -b bench failed')
    }
  }, 120_000)

  it('runs every phase and prints the report', async () => {
    const { code, out, err } = await run(['--quick'], 50_000)
    if (code !== 0) throw new Error(`bench --quick exited ${code}:\n${err.slice(-3000)}`)
    expect(out).toContain('| configuration | 2 KB req/s')
    expect(out).toContain('## Targets')
    expect(out).toContain('## Stampede')
    expect(out).toContain('## Invalidation')
    expect(out).toContain('## Memory')
  }, 60_000)
})
