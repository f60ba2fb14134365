import { type ChildProcess, spawn } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import type { LoadResult, LoadSpec } from './load'
import { which } from './redis'
import type { AppConfig } from './shared'

// Child processes of the runner (apps and load generators), each pinned with
// taskset when it exists, each stopped by its own pid; and a small HTTP client.

export const DIST = __dirname
export const TASKSET = which('taskset')
/** The server core and the load generator's core (with taskset). */
export const SERVER_CPU = '1'
export const LOAD_CPU = '0'

const live = new Map<number, ChildProcess>()

/** SIGKILLs every child still running (exit hooks). */
export function killAll(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  live.clear()
}

/** `[command, args]`, through `taskset -c <cpu>` when available (taskset execs: the pid stays the child's). */
export function pinned(cpu: string, args: string[]): [string, string[]] {
  return TASKSET ? [TASKSET, ['-c', cpu, ...args]] : [args[0] as string, args.slice(1)]
}

/** How a command line reads in the report. */
export function shellLine(cmd: string, args: string[]): string {
  const quote = (a: string) => (/^[\w./:=@,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)
  // Paths relative to the repository, `node` for this Node: the line reads the same anywhere.
  const root = `${path.resolve(DIST, '..', '..')}${path.sep}`
  const show = (a: string) =>
    a === process.execPath ? 'node' : a.startsWith(root) ? a.slice(root.length) : a
  return [path.basename(cmd), ...args.map(show)].map(quote).join(' ')
}

export interface AppProcess {
  readonly name: string
  readonly config: AppConfig
  readonly pid: number
  readonly origin: string
  readonly controlPort: number
  readonly command: string
  stop(): Promise<void>
}

/** The app script of a framework. */
export function appScript(cfg: AppConfig): string {
  return path.join(DIST, 'apps', `${cfg.framework}.js`)
}

/** Whether `exited` settles within `ms` (the timer is cleared either way). */
export async function exitsWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([exited.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Starts an app process and resolves once it printed its ready line. */
export function startApp(
  name: string,
  config: AppConfig,
  nodeArgs: string[] = [],
): Promise<AppProcess> {
  const script = appScript(config)
  const [cmd, args] = pinned(SERVER_CPU, [
    process.execPath,
    ...nodeArgs,
    script,
    JSON.stringify(config),
  ])
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: '0', NODE_ENV: 'production' },
  })
  const pid = child.pid
  if (pid === undefined) return Promise.reject(new Error(`${name}: could not spawn`))
  live.set(pid, child)
  let exited = false
  const whenExited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      live.delete(pid)
      resolve()
    })
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const stop = async () => {
    if (exited) return
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
    if (await exitsWithin(whenExited, 5000)) return
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
    await whenExited
  }
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`${name}: no ready line within 60 s; stderr: ${stderr.trim()}`))
    }, 60_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready port=(\d+) control=(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        child.stdout?.removeAllListeners('data')
        child.stdout?.resume()
        resolve({
          name,
          config,
          pid,
          origin: `http://127.0.0.1:${m[1]}`,
          controlPort: Number(m[2]),
          command: shellLine(cmd, args),
          stop,
        })
      }
    })
    void whenExited.then(() => {
      clearTimeout(timer)
      reject(new Error(`${name}: exited during start-up: ${stderr.trim()}`))
    })
  })
}

/** The load generator command for a spec (for the report). */
export function loadCommand(spec: LoadSpec): string {
  const [cmd, args] = pinned(LOAD_CPU, [
    'node',
    path.relative(process.cwd(), path.join(DIST, 'load.js')),
    JSON.stringify(spec),
  ])
  return shellLine(cmd, args)
}

/** Runs the load generator (pinned to the load core) and returns its figures. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const [cmd, args] = pinned(LOAD_CPU, [
    process.execPath,
    path.join(DIST, 'load.js'),
    JSON.stringify(spec),
  ])
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = child.pid
  if (pid === undefined) return Promise.reject(new Error('load: could not spawn'))
  live.set(pid, child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000)
  })
  const limitMs =
    (spec.warmup + spec.duration * (spec.amount !== undefined ? 10 : 1)) * 1000 + 30_000
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }, limitMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      live.delete(pid)
      const line = out.trim().split('\n').pop() ?? ''
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as LoadResult)
      else reject(new Error(`load generator exited ${code ?? signal}: ${err.trim() || out.trim()}`))
    })
  })
}

// ---------------------------------------------------------------------------
// HTTP

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export function request(
  url: string,
  opts: { method?: string; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        )
        res.on('error', reject)
      },
    )
    req.setTimeout(opts.timeoutMs ?? 120_000, () => req.destroy(new Error(`timeout: ${url}`)))
    req.on('error', reject)
    req.end()
  })
}

/** A control-port call of an app; its JSON answer. */
export async function control<T>(app: AppProcess, pathAndQuery: string): Promise<T> {
  const reply = await request(`http://127.0.0.1:${app.controlPort}${pathAndQuery}`, {
    method: 'POST',
  })
  const body = JSON.parse(reply.body.toString()) as T & { error?: string }
  if (reply.status !== 200) throw new Error(`${app.name} ${pathAndQuery}: ${body.error}`)
  return body
}
