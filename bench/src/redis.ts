import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'

// A throwaway redis-server for the bench, as test/support/redis does it: a
// free loopback port, a temp dir, no persistence, stopped by its pid. A small
// copy rather than an import, so that the bench's TypeScript project stays
// self-contained.

export interface BenchRedis {
  readonly url: string
  readonly port: number
  readonly pid: number
  readonly version: string
  stop(): Promise<void>
}

export function which(name: string): string | undefined {
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

function freePort(): Promise<number> {
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

/** One command over a fresh connection; the raw reply text. */
export function redisCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    const done = (err?: Error) => {
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(data)
    }
    const timer = setTimeout(() => done(new Error('redis: timeout')), timeoutMs)
    socket.on('error', done)
    socket.on('connect', () => {
      socket.write(
        `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
      )
    })
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8')
      // Enough for PING, INFO and DBSIZE: a simple line, an integer, or one bulk string.
      if (/^[+:-].*\r\n$/s.test(data)) done()
      const bulk = /^\$(\d+)\r\n/.exec(data)
      if (bulk && Buffer.byteLength(data) >= bulk[0].length + Number(bulk[1]) + 2) done()
    })
  })
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Starts redis-server on a free loopback port, through `taskset -c <cpu>`
 * when `cpu` is given (taskset execs, so the pid is redis-server's).
 */
export async function startRedis(cpu: string | undefined): Promise<BenchRedis> {
  const bin = which('redis-server')
  if (!bin) {
    throw new Error(
      'redis-server not found: install it with "sudo apt-get install redis-server" (or run the bench with --only to skip the Redis configurations)',
    )
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cachet-bench-redis-'))
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'yes',
      '--dir',
      dir,
      '--logfile',
      path.join(dir, 'redis.log'),
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ]
    const [cmd, argv] = cpu !== undefined ? ['taskset', ['-c', cpu, bin, ...args]] : [bin, args]
    const child: ChildProcess = spawn(cmd as string, argv as string[], { stdio: 'ignore' })
    child.on('error', () => {})
    const pid = child.pid
    if (pid === undefined) throw new Error(`could not spawn ${bin}`)
    let exited = false
    const whenExited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        exited = true
        resolve()
      })
    })
    const stop = async () => {
      if (exited) return
      try {
        process.kill(pid, 'SIGTERM')
      } catch {}
      let timer: NodeJS.Timeout | undefined
      const late = await Promise.race([
        whenExited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), 2000)
        }),
      ])
      clearTimeout(timer)
      if (late) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
        await whenExited
      }
      fs.rmSync(dir, { recursive: true, force: true })
    }
    const deadline = Date.now() + 10_000
    while (!exited && Date.now() < deadline) {
      const info = await redisCommand(port, ['INFO', 'server'], 250).catch(() => '')
      const serverPid = Number(/process_id:(\d+)/.exec(info)?.[1])
      if (serverPid === pid) {
        const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?'
        return { url: `redis://127.0.0.1:${port}`, port, pid, version, stop }
      }
      if (serverPid) break // another server took the port
      await sleep(20)
    }
    await stop()
    if (attempt >= 5) throw new Error('redis-server did not start (see its log)')
    fs.mkdirSync(dir, { recursive: true })
  }
}
