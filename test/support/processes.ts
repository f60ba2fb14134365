import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

// Example shops as real OS processes (`node examples/<kind>-shop/dist/main.js`),
// for the multi-process tests: each process has its own memory tier, origin data
// and counters, and they meet only through Redis. Started on PORT=0, ready once
// they print `listening on http://HOST:PORT` (which the shop does after joining
// its Redis bus), stopped by pid: SIGTERM, then SIGKILL after a grace period.
// Never by name.

export type ShopKind = 'express' | 'koa' | 'fastify'
/** The example apps that run as processes: the three shops, and the forwarding gateway. */
export type AppKind = ShopKind | 'gateway'

export interface ShopExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ShopProcess {
  readonly kind: AppKind
  /** `http://127.0.0.1:PORT`, as the process printed it. */
  readonly url: string
  readonly pid: number
  /** Whether the process has exited. */
  readonly exited: boolean
  /** Resolves once the process has exited (and been reaped). */
  readonly whenExited: Promise<ShopExit>
  /** Everything the process wrote to stdout and stderr so far (capped). */
  output(): string
  /** SIGTERM by pid, SIGKILL after `graceMs`; resolves with how it exited. */
  stop(graceMs?: number): Promise<ShopExit>
  /** SIGKILL by pid; resolves once reaped. */
  kill(): Promise<ShopExit>
  /** SIGSTOP by pid: a stalled process (its sockets stay open, nothing answers). */
  pause(): void
  /** SIGCONT by pid. */
  resume(): void
}

export interface StartShopOptions {
  /** How long to wait for the listening line. Default 15 s. */
  timeoutMs?: number
}

/** The repository root (this file is `test/support/processes.ts`). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..')

const LISTENING = /listening on (http:\/\/\S+)/
// The shop gives open requests 5 s after SIGTERM before it cuts them, then closes
// its Redis connections (each bounded by a 1 s deadline): 8 s covers all of it.
const STOP_GRACE_MS = 8000
const OUTPUT_CAP = 256 * 1024

// Environment variables of CONTRACT.md that a shell or CI job might have set:
// a test's process gets only what the test passes.
const CONTRACT_ENV = [
  'PORT',
  'HOST',
  'REDIS_URL',
  'CACHE_REDIS_PREFIX',
  'CACHE_ADMIN_TOKEN',
  'ORIGIN_DELAY_MS',
  'CACHE_L1_MAX_BYTES',
  'CACHE_ON_INVALIDATION_FAILURE',
  'NODE_OPTIONS',
  'ORIGIN_URL',
]

/** The built entry point of a shop; throws a clear message when it was not built. */
export function shopEntry(kind: AppKind): string {
  const dir = kind === 'gateway' ? 'express-gateway' : `${kind}-shop`
  const file = path.join(REPO_ROOT, 'examples', dir, 'dist', 'main.js')
  if (!fs.existsSync(file)) {
    throw new Error(
      `${path.relative(REPO_ROOT, file)} does not exist: build the workspace first ("npx tsc -b", which "npm test" runs before Jest)`,
    )
  }
  return file
}

// Every shop process this Jest worker started and has not seen exit: SIGKILLed by
// pid if the worker exits without stopping them (a failed beforeAll, a timeout).
const live = new Set<ChildProcess>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of live) {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
      } catch {}
    }
  })
}

/**
 * Starts `node examples/<kind>-shop/dist/main.js` on a free loopback port with
 * `env` on top of this process's environment (minus the contract's variables),
 * and resolves once it prints its listening line.
 */
export async function startShopProcess(
  kind: AppKind,
  env: Record<string, string>,
  options: StartShopOptions = {},
): Promise<ShopProcess> {
  const entry = shopEntry(kind)
  const base: NodeJS.ProcessEnv = { ...process.env }
  for (const name of CONTRACT_ENV) delete base[name]
  const child = spawn(process.execPath, [entry], {
    cwd: REPO_ROOT,
    env: { ...base, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (child.pid === undefined) {
    // spawn reports a failure to start asynchronously, as an 'error' event.
    const err = await new Promise<Error>((resolve) => child.once('error', resolve))
    throw new Error(`could not start the ${kind} shop: ${err.message}`)
  }
  const pid = child.pid
  installExitHook()
  live.add(child)

  let output = ''
  const append = (chunk: Buffer) => {
    if (output.length < OUTPUT_CAP) output += chunk.toString('utf8')
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)

  let exited = false
  const whenExited = new Promise<ShopExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true
      live.delete(child)
      resolve({ code, signal })
    })
  })

  const signal = (sig: NodeJS.Signals) => {
    try {
      if (!exited) process.kill(pid, sig)
    } catch {}
  }
  const kill = async () => {
    signal('SIGKILL')
    return whenExited
  }
  let stopping: Promise<ShopExit> | undefined
  const stop = (graceMs = STOP_GRACE_MS) => {
    stopping ??= (async () => {
      if (exited) return whenExited
      signal('SIGTERM')
      signal('SIGCONT') // in case it is paused
      let timer: NodeJS.Timeout | undefined
      const late = await Promise.race([
        whenExited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs)
        }),
      ])
      clearTimeout(timer)
      if (late) signal('SIGKILL')
      return whenExited
    })()
    return stopping
  }

  const timeoutMs = options.timeoutMs ?? 15_000
  const url = await new Promise<string>((resolve, reject) => {
    let seen = ''
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8')
      const m = LISTENING.exec(seen)
      if (m) {
        done()
        resolve(m[1] as string)
      }
    }
    const timer = setTimeout(() => {
      done()
      void kill()
      reject(
        new Error(
          `the ${kind} shop (pid ${pid}) printed no listening line within ${timeoutMs} ms; output: ${output.trim() || '(none)'}`,
        ),
      )
    }, timeoutMs)
    const onExit = (code: number | null, sig: NodeJS.Signals | null) => {
      done()
      reject(
        new Error(
          `the ${kind} shop (pid ${pid}) exited with ${code ?? sig} before listening; output: ${output.trim() || '(none)'}`,
        ),
      )
    }
    const done = () => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
  })

  return {
    kind,
    url,
    pid,
    get exited() {
      return exited
    },
    whenExited,
    output: () => output,
    stop,
    kill,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
  }
}
