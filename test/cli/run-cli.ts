import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { REPO_ROOT } from '../support/processes'

// The real `cachet` binary (packages/cli/dist/bin.js, built by `tsc -b`), run
// as a child process with a clean environment, bounded in time.

export const CLI_BIN = path.join(REPO_ROOT, 'packages', 'cli', 'dist', 'bin.js')

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
  /** Wall time from spawn to exit. */
  ms: number
}

export function cliBin(): string {
  if (!fs.existsSync(CLI_BIN)) {
    throw new Error(
      `${path.relative(REPO_ROOT, CLI_BIN)} does not exist: build the workspace first ("npx tsc -b", which "npm test" runs before Jest)`,
    )
  }
  return CLI_BIN
}

/** Runs `cachet ...args`; the child is SIGKILLed by pid if it runs past `timeoutMs`. */
export function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  const bin = cliBin()
  const started = Date.now()
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8')
  })
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8')
  })
  child.stdin.end(options.stdin ?? '')
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
      reject(
        new Error(
          `cachet ${args.join(' ')} ran past ${options.timeoutMs ?? 20_000} ms; stderr: ${stderr}`,
        ),
      )
    }, options.timeoutMs ?? 20_000)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
