import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  encodeCommand,
  parseReply,
  ping,
  type RespOptions,
  type RespReply,
  redisCommand,
} from './resp'

// Throwaway redis-server processes for tests: a free loopback port, a temp dir,
// no persistence, stopped by pid (SIGTERM, then SIGKILL). Never by name or port.
// Every server runs with `--enable-debug-command local`, so DEBUG SLEEP (and the
// other DEBUG subcommands) work from loopback connections.

export interface RedisProcess {
  readonly port: number
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  /** The current server's pid; changes on restart(). */
  readonly pid: number
  /** The server's own temp dir (`--dir`, log file, pid file); removed by stop(). */
  readonly dir: string
  /** `<dir>/redis.conf` when started with `config` or `sentinel` (the server may rewrite it). */
  readonly configFile: string | undefined
  /** False once the current process has exited (after kill() or stop(), or a crash). */
  readonly alive: boolean
  /** SIGTERM by pid, SIGKILL after a grace period; resolves once the process is reaped. */
  stop(): Promise<void>
  /**
   * SHUTDOWN NOSAVE, then a new server on the same port (all data is lost), with the
   * same dir, config file and arguments (so a cluster node keeps its nodes.conf).
   * After kill(): just the new server.
   */
  restart(): Promise<void>
  /**
   * SIGKILL by pid, like a crash (no shutdown, nothing saved, the dir is kept);
   * resolves once the process is reaped. restart() brings it back on the same port.
   */
  kill(): Promise<void>
  /** SIGSTOP: the port still accepts connections but nothing answers. */
  pause(): void
  /** SIGCONT */
  resume(): void

  // Fault injection through commands (each on a fresh loopback connection).

  /** One command, one reply (see redisCommand); rejects on an error reply. */
  command(args: readonly (string | number)[], opts?: RespOptions): Promise<RespReply>
  /** `CLIENT PAUSE ms ALL|WRITE`: resolves once the server accepted it (the pause runs on). */
  clientPause(ms: number, mode?: ClientPauseMode): Promise<void>
  /** `CLIENT UNPAUSE`: ends a pause early. */
  clientUnpause(): Promise<void>
  /**
   * `DEBUG SLEEP seconds`: the server blocks (answers nothing, accepts nothing) for
   * that long. Resolves once the command has been written (plus a few ms for the
   * server to pick it up), without waiting for the reply; `done` resolves when the
   * reply came (true) or the connection closed or timed out (false). Never rejects
   * after being sent.
   */
  debugSleep(seconds: number): Promise<DebugSleep>
  /** `CONFIG SET maxmemory bytes maxmemory-policy policy` (0 bytes: no limit). */
  setMaxmemory(bytes: number, policy?: MaxmemoryPolicy): Promise<void>
  /** `CLIENT KILL TYPE type SKIPME yes`: the number of connections killed. */
  killClients(type: KilledClientType): Promise<number>
}

export type ClientPauseMode = 'ALL' | 'WRITE'
export type KilledClientType = 'pubsub' | 'normal'
export type MaxmemoryPolicy =
  | 'noeviction'
  | 'allkeys-lru'
  | 'allkeys-lfu'
  | 'allkeys-random'
  | 'volatile-lru'
  | 'volatile-lfu'
  | 'volatile-random'
  | 'volatile-ttl'

export interface DebugSleep {
  /** Resolves when the server answered (true), or the connection closed or timed out (false). */
  readonly done: Promise<boolean>
}

export interface StartRedisOptions {
  /** A fixed port; by default a free one is picked (and re-picked if someone takes it first). */
  port?: number
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[]
  /**
   * A config file's text: written to `<dir>/redis.conf` and passed as the first
   * argument, so the fixed options (port, bind, dir, ...) and `args` come after it
   * and win. The file stays writable (CONFIG REWRITE, Sentinel's state).
   */
  config?: string
  /**
   * Sentinel mode (`redis-server <dir>/redis.conf --sentinel`). Sentinel needs a
   * config file, so an empty one is written when `config` is not given.
   */
  sentinel?: boolean
}

/** Environment variable naming the dir under which servers of one Jest run live (see global-setup). */
export const RUN_DIR_ENV = 'CACHET_TEST_REDIS_RUN_DIR'

const INSTALL_HINT = 'redis-server not found: install it with "sudo apt-get install redis-server"'
const STOP_GRACE_MS = 2000
const READY_TIMEOUT_MS = 10_000
const PID_FILE = 'redis.pid'
const LOG_FILE = 'redis.log'
const CONFIG_FILE = 'redis.conf'

let cachedBinary: string | undefined

/** An error that prints as its message alone (Jest shows a failed globalSetup's stack). */
export function oneLineError(message: string): Error {
  const error = new Error(message)
  error.stack = message
  return error
}

// ---------------------------------------------------------------------------
// Finding and installing the binary

function which(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)
  for (const dir of [...dirs, '/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin', '/sbin']) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch {}
  }
  return undefined
}

function oneLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean)
  return (lines[lines.length - 1] ?? '').trim()
}

function runApt(args: string[]): void {
  const result = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  if (result.status !== 0) {
    const why = result.error?.message ?? oneLine(result.stderr || result.stdout || '')
    throw oneLineError(
      `redis-server install failed: "apt-get ${args.join(' ')}" exited ${result.status ?? result.signal}: ${why}`,
    )
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** True when `pid` is alive and (where /proc exists) is a redis-server. */
function isRedisPid(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')
  } catch {
    return false // cannot verify: never kill what we cannot identify
  }
}

/**
 * Installs the Debian package as root. Service start-up is blocked with a temporary
 * policy-rc.d (unless one exists already); if a system service came up anyway, it
 * is stopped by its pid file's pid and disabled where systemd runs.
 */
function installWithApt(): void {
  if (process.getuid?.() !== 0 || !which('apt-get')) throw oneLineError(INSTALL_HINT)
  process.stderr.write('cachet tests: redis-server is missing; installing it with apt-get\n')
  const policy = '/usr/sbin/policy-rc.d'
  const servicePidFile = '/run/redis/redis-server.pid'
  const servicePidBefore = readPid(servicePidFile)
  let ownPolicy = false
  if (!fs.existsSync(policy)) {
    fs.writeFileSync(policy, '#!/bin/sh\n# written by cachet tests during apt-get\nexit 101\n', {
      mode: 0o755,
    })
    ownPolicy = true
  }
  try {
    runApt(['update'])
    runApt(['install', '-y', 'redis-server'])
  } finally {
    if (ownPolicy) fs.rmSync(policy, { force: true })
  }
  if (fs.existsSync('/run/systemd/system')) {
    spawnSync('systemctl', ['disable', '--now', 'redis-server.service'], { stdio: 'ignore' })
  }
  const servicePid = readPid(servicePidFile)
  if (servicePid && servicePid !== servicePidBefore && isRedisPid(servicePid)) {
    process.kill(servicePid, 'SIGTERM')
  }
}

/** The redis-server binary; installs the Debian package when missing and root, else throws one line. */
export function ensureRedisInstalled(): string {
  if (cachedBinary) return cachedBinary
  let bin = which('redis-server')
  if (!bin) {
    installWithApt()
    bin = which('redis-server')
  }
  if (!bin) throw oneLineError(INSTALL_HINT)
  cachedBinary = bin
  return bin
}

/** `redis-server --version`, e.g. `7.0.15`. */
export function redisVersion(bin = ensureRedisInstalled()): string {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout ?? ''
  return /v=(\S+)/.exec(out)?.[1] ?? out.trim()
}

// ---------------------------------------------------------------------------
// Ports and processes

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

interface Running {
  child: ChildProcess
  pid: number
  exited: boolean
  whenExited: Promise<void>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Polls `probe` every `intervalMs` until it returns true, and resolves with the ms
 * that took. Any other result (or a thrown error's message) describes the state so
 * far: after `timeoutMs` the last one ends the one-line error,
 * `<what> within <timeoutMs> ms (last: <state>)`.
 */
export async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<true | string>,
  intervalMs = 50,
): Promise<number> {
  const t0 = Date.now()
  let last = 'not probed yet'
  for (;;) {
    try {
      const state = await probe()
      if (state === true) return Date.now() - t0
      last = state
    } catch (err) {
      last = err instanceof Error ? err.message : String(err)
    }
    if (Date.now() - t0 >= timeoutMs) {
      throw oneLineError(`${what} within ${timeoutMs} ms (last: ${last.replace(/\s+/g, ' ')})`)
    }
    await sleep(intervalMs)
  }
}

function launch(bin: string, port: number, dir: string, extra: string[], conf?: string): Running {
  const args = [
    ...(conf === undefined ? [] : [conf]),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'yes',
    '--dir',
    dir,
    '--logfile',
    path.join(dir, LOG_FILE),
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--enable-debug-command',
    'local',
    ...extra,
  ]
  const child = spawn(bin, args, { stdio: 'ignore' })
  child.on('error', () => {}) // a failed spawn leaves pid undefined, handled below
  if (child.pid === undefined) throw new Error(`could not spawn ${bin}`)
  const running: Running = { child, pid: child.pid, exited: false, whenExited: Promise.resolve() }
  running.whenExited = new Promise((resolve) => {
    child.once('exit', () => {
      running.exited = true
      resolve()
    })
  })
  fs.writeFileSync(path.join(dir, PID_FILE), `${child.pid}\n`)
  return running
}

/** SIGTERM (plus SIGCONT, in case it is paused), SIGKILL after the grace period; resolves once reaped. */
async function terminate(running: Running, graceMs = STOP_GRACE_MS): Promise<void> {
  if (running.exited) return
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (!running.exited) process.kill(running.pid, sig)
    } catch {}
  }
  signal('SIGTERM')
  signal('SIGCONT')
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs)
  })
  const late = await Promise.race([running.whenExited.then(() => false), timedOut])
  clearTimeout(timer)
  if (late) {
    signal('SIGKILL')
    await running.whenExited
  }
}

/** What the server logged since byte `from`, without the `pid:role date level` prefixes. */
function logSince(dir: string, from: number): string {
  try {
    const text = fs.readFileSync(path.join(dir, LOG_FILE)).subarray(from).toString('utf8')
    return text.replace(/^\d+:[A-Z] .*? [.*#-] /gm, '')
  } catch {
    return ''
  }
}

function logSize(dir: string): number {
  try {
    return fs.statSync(path.join(dir, LOG_FILE)).size
  } catch {
    return 0
  }
}

/** The last two log lines, on one line. */
function lastLines(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  return lines.slice(-2).join(' | ') || 'no log'
}

class PortBusy extends Error {}

/** Spawns and waits until this very process (checked by INFO's process_id) answers PING. */
async function launchReady(bin: string, port: number, dir: string, extra: string[], conf?: string) {
  const logFrom = logSize(dir)
  const running = launch(bin, port, dir, extra, conf)
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (running.exited) {
      const log = logSince(dir, logFrom)
      if (/address already in use/i.test(log)) throw new PortBusy(lastLines(log))
      throw new Error(`redis-server exited during start-up on port ${port}: ${lastLines(log)}`)
    }
    if (await ping(port, 250)) {
      const info = await redisCommand(port, ['INFO', 'server']).catch(() => '')
      const pid = Number(/process_id:(\d+)/.exec(String(info))?.[1])
      if (pid === running.pid && !running.exited) return running
      await terminate(running)
      throw new PortBusy(`port ${port} is answered by another redis (pid ${pid})`)
    }
    await sleep(10)
  }
  await terminate(running)
  throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms`)
}

function makeDir(): string {
  const root = process.env[RUN_DIR_ENV]
  if (root) {
    fs.mkdirSync(root, { recursive: true })
    return fs.mkdtempSync(path.join(root, 'redis-'))
  }
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cachet-redis-'))
}

/** Starts a throwaway redis-server and resolves once it answers PING. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  const bin = ensureRedisInstalled()
  const extra = [...(opts.args ?? []), ...(opts.sentinel ? ['--sentinel'] : [])]
  const dir = makeDir()
  let conf: string | undefined
  if (opts.config !== undefined || opts.sentinel) {
    conf = path.join(dir, CONFIG_FILE)
    fs.writeFileSync(conf, opts.config ?? '', { mode: 0o600 })
  }
  let port = opts.port ?? (await freePort())
  let running: Running | undefined
  try {
    for (let attempt = 1; !running; attempt++) {
      try {
        running = await launchReady(bin, port, dir, extra, conf)
      } catch (err) {
        if (!(err instanceof PortBusy) || attempt >= 5) throw err
        if (opts.port === undefined) port = await freePort()
        else await sleep(100 * attempt)
      }
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }

  let current: Running = running
  let stopping: Promise<void> | undefined
  const fixedPort = port

  const restart = async (): Promise<void> => {
    if (stopping) throw new Error('restart() after stop()')
    const old = current
    if (!old.exited) {
      try {
        process.kill(old.pid, 'SIGCONT')
      } catch {}
      await redisCommand(fixedPort, ['SHUTDOWN', 'NOSAVE'], { timeoutMs: 1000 }).catch(() => {})
    }
    await terminate(old) // normally already exiting: waits for the reap, else signals
    const deadline = Date.now() + 3000 // a listener leaves no TIME_WAIT, but be robust
    for (;;) {
      try {
        current = await launchReady(bin, fixedPort, dir, extra, conf)
        return
      } catch (err) {
        if (!(err instanceof PortBusy) || Date.now() > deadline) throw err
        await sleep(50)
      }
    }
  }

  return {
    port: fixedPort,
    url: `redis://127.0.0.1:${fixedPort}`,
    get pid() {
      return current.pid
    },
    dir,
    configFile: conf,
    get alive() {
      return !current.exited
    },
    stop() {
      stopping ??= terminate(current).then(() => fs.rmSync(dir, { recursive: true, force: true }))
      return stopping
    },
    restart,
    async kill() {
      const running = current
      if (running.exited) return
      try {
        process.kill(running.pid, 'SIGKILL')
      } catch {}
      await running.whenExited
    },
    pause() {
      process.kill(current.pid, 'SIGSTOP')
    },
    resume() {
      process.kill(current.pid, 'SIGCONT')
    },
    command: (args, opts) => redisCommand(fixedPort, args, opts),
    clientPause: (ms, mode) => clientPause(fixedPort, ms, mode),
    clientUnpause: () => clientUnpause(fixedPort),
    debugSleep: (seconds) => debugSleep(fixedPort, seconds),
    setMaxmemory: (bytes, policy) => setMaxmemory(fixedPort, bytes, policy),
    killClients: (type) => killClients(fixedPort, type),
  }
}

// ---------------------------------------------------------------------------
// Fault injection by command, for any server (`redis://host:port` or a port):
// the RedisProcess methods above, usable on the shared server too.

/** `CLIENT PAUSE ms ALL|WRITE` (Redis ≥ 6.2 for the mode). */
export async function clientPause(
  to: string | number,
  ms: number,
  mode: ClientPauseMode = 'ALL',
): Promise<void> {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`clientPause: bad duration ${ms} ms`)
  await redisCommand(to, ['CLIENT', 'PAUSE', ms, mode])
}

export async function clientUnpause(to: string | number): Promise<void> {
  await redisCommand(to, ['CLIENT', 'UNPAUSE'])
}

/** How long debugSleep waits for the connection and the write before it rejects. */
const DEBUG_SLEEP_SEND_MS = 2000
/** After the write: time for the server to read the command and start sleeping. */
const DEBUG_SLEEP_SETTLE_MS = 10
/** How long past the sleep `done` waits for the reply. */
const DEBUG_SLEEP_REPLY_GRACE_MS = 5000

/**
 * `DEBUG SLEEP seconds` without waiting for its reply (see RedisProcess.debugSleep).
 * Needs `--enable-debug-command local` (or yes) on the server.
 */
export function debugSleep(to: string | number, seconds: number): Promise<DebugSleep> {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) {
    return Promise.reject(new Error(`debugSleep: bad duration ${seconds} s`))
  }
  const url = typeof to === 'number' ? undefined : new URL(to)
  const host = url?.hostname || '127.0.0.1'
  const port = url ? Number(url.port || 6379) : (to as number)
  return new Promise((resolveSent, rejectSent) => {
    let sent = false
    let resolveDone: (answered: boolean) => void = () => {}
    const done = new Promise<boolean>((resolve) => {
      resolveDone = resolve
    })
    let buf = Buffer.alloc(0)
    const socket = net.connect({ host, port })
    const announce = () => {
      if (sent) return
      sent = true
      resolveSent({ done })
    }
    const finish = (answered: boolean, err?: Error) => {
      clearTimeout(sendTimer)
      clearTimeout(replyTimer)
      socket.destroy()
      resolveDone(answered)
      if (answered) announce()
      else if (!sent) {
        sent = true
        rejectSent(err ?? new Error(`debugSleep: connection to :${port} closed before a reply`))
      }
    }
    const sendTimer = setTimeout(() => {
      finish(
        false,
        new Error(
          `debugSleep: could not send DEBUG SLEEP to :${port} within ${DEBUG_SLEEP_SEND_MS} ms`,
        ),
      )
    }, DEBUG_SLEEP_SEND_MS)
    const replyTimer = setTimeout(
      () => finish(false),
      DEBUG_SLEEP_SEND_MS + seconds * 1000 + DEBUG_SLEEP_REPLY_GRACE_MS,
    )
    socket.on('connect', () => {
      socket.write(encodeCommand(['DEBUG', 'SLEEP', seconds]), (err) => {
        if (err) return finish(false, err)
        clearTimeout(sendTimer)
        setTimeout(announce, DEBUG_SLEEP_SETTLE_MS)
      })
    })
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      let reply: ReturnType<typeof parseReply>
      try {
        reply = parseReply(buf)
      } catch (err) {
        return finish(false, err as Error)
      }
      if (!reply) return
      if (reply.value instanceof Error) finish(false, reply.value)
      else finish(true)
    })
    socket.on('error', (err) => finish(false, err))
    socket.on('close', () => finish(false))
  })
}

/** `CONFIG SET maxmemory bytes maxmemory-policy policy`. */
export async function setMaxmemory(
  to: string | number,
  bytes: number,
  policy: MaxmemoryPolicy = 'allkeys-lru',
): Promise<void> {
  if (!Number.isInteger(bytes) || bytes < 0) throw new Error(`setMaxmemory: bad size ${bytes}`)
  await redisCommand(to, ['CONFIG', 'SET', 'maxmemory', bytes, 'maxmemory-policy', policy])
}

/** `CLIENT KILL TYPE pubsub|normal SKIPME yes`: how many connections were killed. */
export async function killClients(to: string | number, type: KilledClientType): Promise<number> {
  const killed = await redisCommand(to, ['CLIENT', 'KILL', 'TYPE', type, 'SKIPME', 'yes'])
  if (typeof killed !== 'number') throw new Error(`CLIENT KILL answered ${String(killed)}`)
  return killed
}

/**
 * Synchronously SIGKILLs every server still running under `runDir` (found by the
 * pid files that startRedis writes, each checked to be a live redis-server) and
 * removes the dir. For exit hooks and teardown: catches servers that a test file
 * or a killed Jest worker left behind. Returns the pids it killed.
 */
export function sweepRedisServers(runDir: string): number[] {
  const killed: number[] = []
  let entries: string[] = []
  try {
    entries = fs.readdirSync(runDir)
  } catch {}
  for (const entry of entries) {
    const pid = readPid(path.join(runDir, entry, PID_FILE))
    if (pid && isRedisPid(pid)) {
      try {
        process.kill(pid, 'SIGKILL')
        killed.push(pid)
      } catch {}
    }
  }
  fs.rmSync(runDir, { recursive: true, force: true })
  return killed
}
