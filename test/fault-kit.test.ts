import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { sleep } from './cluster/http'
import { runLoad } from './support/faults/load'
import { startTcpProxy, type TcpProxy } from './support/faults/tcp-proxy'
import { type RedisProcess, startRedis } from './support/redis/redis-server'
import { encodeCommand, parseReply, type RespReply, redisCommand } from './support/redis/resp'

// The fault kit itself: the TCP proxy and the Redis fault commands against a real
// redis-server of this file's own, and the load driver against a local HTTP server.
// Timings are asserted loosely (lower bounds; generous upper bounds): the machine
// may be small and shared.

/** A raw RESP connection: write commands, read replies in order, see how it ended. */
class Conn {
  private buf = Buffer.alloc(0)
  private readonly replies: RespReply[] = []
  private waiter: (() => void) | undefined
  error: NodeJS.ErrnoException | undefined
  closed = false
  readonly whenClosed: Promise<void>

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk])
      for (;;) {
        const reply = parseReply(this.buf)
        if (!reply) break
        this.replies.push(reply.value)
        this.buf = this.buf.subarray(reply.end)
      }
      this.waiter?.()
    })
    socket.on('error', (err) => {
      this.error = err
    })
    this.whenClosed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true
        this.waiter?.()
        resolve()
      })
    })
  }

  static open(port: number, timeoutMs = 2000): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port })
      const conn = new Conn(socket)
      conns.add(conn)
      const timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(conn)
      })
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  send(...commands: (string | number)[][]): void {
    for (const args of commands) this.socket.write(encodeCommand(args))
  }

  /** The next `n` replies, or undefined when they did not all come within `timeoutMs`. */
  async read(n: number, timeoutMs: number): Promise<RespReply[] | undefined> {
    const deadline = Date.now() + timeoutMs
    while (this.replies.length < n && !this.closed) {
      const left = deadline - Date.now()
      if (left <= 0) return undefined
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.waiter = undefined
    }
    if (this.replies.length < n) return undefined
    return this.replies.splice(0, n)
  }

  /** Sends one command and resolves with its reply and how long it took. */
  async call(
    args: (string | number)[],
    timeoutMs = 2000,
  ): Promise<{ reply: RespReply; ms: number }> {
    const t0 = performance.now()
    this.send(args)
    const replies = await this.read(1, timeoutMs)
    if (!replies) throw new Error(`${String(args[0])}: no reply within ${timeoutMs} ms`)
    return { reply: replies[0] as RespReply, ms: performance.now() - t0 }
  }

  /** Resolves true once closed, false when still open after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const result = await Promise.race([
      this.whenClosed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs)
      }),
    ])
    clearTimeout(timer)
    return result
  }
}

const conns = new Set<Conn>()
const proxies: TcpProxy[] = []
let redis: RedisProcess | undefined

async function proxy(): Promise<TcpProxy> {
  const p = await startTcpProxy({ port: server().port })
  proxies.push(p)
  return p
}

function server(): RedisProcess {
  if (!redis) throw new Error('no redis (beforeAll failed)')
  return redis
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - t0 }
}

beforeAll(async () => {
  redis = await startRedis()
})

afterEach(async () => {
  for (const c of conns) c.socket.destroy()
  conns.clear()
  await Promise.all(proxies.splice(0).map((p) => p.close()))
  if (redis) {
    // Undo what a test may have left behind.
    await redis.clientUnpause().catch(() => {})
    await redis.setMaxmemory(0, 'noeviction').catch(() => {})
  }
})

afterAll(async () => {
  await redis?.stop()
})

describe('tcp proxy', () => {
  test('forwards: PING through the proxy, counted connections', async () => {
    const p = await proxy()
    expect(p.url).toBe(`redis://127.0.0.1:${p.port}`)
    expect(await redisCommand(p.url, ['PING'])).toBe('PONG')
    const c = await Conn.open(p.port)
    expect((await c.call(['SET', 'fk:forward', 'x'])).reply).toBe('OK')
    expect((await c.call(['GET', 'fk:forward'])).reply).toBe('x')
    expect(p.connections()).toBe(1)
    c.socket.end()
    await c.closedWithin(2000)
    for (let i = 0; i < 100 && p.connections() > 0; i++) await sleep(10)
    expect(p.connections()).toBe(0)
  })

  test('setLatency(100) delays each direction; pipelined replies keep their order', async () => {
    const p = await proxy()
    const c = await Conn.open(p.port)
    await c.call(['PING']) // connected end to end before timing
    p.setLatency(100)
    const { reply, ms } = await c.call(['PING'], 5000)
    expect(reply).toBe('PONG')
    expect(ms).toBeGreaterThanOrEqual(180) // 100 ms each way
    expect(ms).toBeLessThan(3000)

    // Jitter larger than the gap between writes: chunks would overtake one another
    // if each had its own timer.
    p.setLatency(20, 60)
    await c.call(['DEL', 'fk:order'], 5000)
    const n = 40
    for (let i = 0; i < n; i++) {
      c.send(['INCR', 'fk:order'])
      await sleep(2) // separate chunks
    }
    c.send(['GET', 'fk:order'])
    const replies = await c.read(n + 1, 10_000)
    expect(replies).toEqual([...Array.from({ length: n }, (_, i) => i + 1), String(n)])

    p.heal()
    const healed = await c.call(['PING'])
    expect(healed.ms).toBeLessThan(1000)
  })

  test('blackhole: nothing answers, new connections are accepted; heal() delivers and forwards again', async () => {
    const p = await proxy()
    const c = await Conn.open(p.port)
    expect((await c.call(['PING'])).reply).toBe('PONG')
    const clientsBefore = await clientCount()

    p.blackhole()
    expect(p.blackholed).toBe(true)
    c.send(['ECHO', 'held'])
    expect(await c.read(1, 300)).toBeUndefined()
    // A new connection is accepted (connect succeeds) but gets no answer ...
    const fresh = await Conn.open(p.port)
    fresh.send(['PING'])
    expect(await fresh.read(1, 300)).toBeUndefined()
    await expect(redisCommand(p.url, ['PING'], { timeoutMs: 300 })).rejects.toThrow(/timed out/)
    // ... and never reaches the server.
    expect(await clientCount()).toBe(clientsBefore)
    expect(c.closed).toBe(false)

    p.heal()
    expect(p.blackholed).toBe(false)
    expect(await c.read(1, 2000)).toEqual(['held']) // held, not dropped
    expect(await fresh.read(1, 2000)).toEqual(['PONG'])
    expect(await redisCommand(p.url, ['PING'], { timeoutMs: 2000 })).toBe('PONG')
  })

  test('resetAll(): the client sees ECONNRESET', async () => {
    const p = await proxy()
    const c = await Conn.open(p.port)
    expect((await c.call(['PING'])).reply).toBe('PONG')
    expect(p.connections()).toBe(1)
    p.resetAll()
    expect(await c.closedWithin(2000)).toBe(true)
    expect(c.error?.code).toBe('ECONNRESET')
    expect(p.connections()).toBe(0)
    // The proxy itself goes on.
    expect(await redisCommand(p.url, ['PING'])).toBe('PONG')
  })

  test('refuse(true): new connections fail at once; refuse(false) lets them through', async () => {
    const p = await proxy()
    const open = await Conn.open(p.port)
    expect((await open.call(['PING'])).reply).toBe('PONG')
    p.refuse(true)
    const { value: err, ms } = await timed(() =>
      redisCommand(p.url, ['PING'], { timeoutMs: 2000 }).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      ),
    )
    expect(err).toBeDefined()
    expect(`${err?.code} ${err?.message}`).toMatch(/ECONNRESET|EPIPE|closed before a reply/)
    expect(ms).toBeLessThan(1500) // reset, not a timeout
    // Open connections are untouched.
    expect((await open.call(['PING'])).reply).toBe('PONG')
    p.refuse(false)
    expect(await redisCommand(p.url, ['PING'])).toBe('PONG')
  })

  test('a target that is down: the client is reset', async () => {
    const p = await startTcpProxy({ port: await deadPort() })
    proxies.push(p)
    const err = await redisCommand(p.url, ['PING'], { timeoutMs: 2000 }).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    )
    expect(`${err?.code} ${err?.message}`).toMatch(/ECONNRESET|EPIPE|closed before a reply/)
  })

  test('close() destroys the open connections and frees the port', async () => {
    const p = await startTcpProxy({ port: server().port })
    const c = await Conn.open(p.port)
    expect((await c.call(['PING'])).reply).toBe('PONG')
    p.blackhole()
    c.send(['PING'])
    await p.close()
    expect(await c.closedWithin(2000)).toBe(true)
    await expect(Conn.open(p.port, 1000)).rejects.toThrow(/ECONNREFUSED/)
    await p.close() // idempotent
  })
})

describe('redis fault commands', () => {
  test('the server runs with --enable-debug-command local', async () => {
    expect(await server().command(['CONFIG', 'GET', 'enable-debug-command'])).toEqual([
      'enable-debug-command',
      'local',
    ])
  })

  test('clientPause(300) delays a command by about 300 ms', async () => {
    const c = await Conn.open(server().port)
    await c.call(['PING'])
    await server().clientPause(300)
    const { reply, ms } = await c.call(['PING'], 5000)
    expect(reply).toBe('PONG')
    expect(ms).toBeGreaterThanOrEqual(250)
    expect(ms).toBeLessThan(3000)
  })

  test("clientPause(ms, 'WRITE') holds writes, not reads", async () => {
    await server().command(['SET', 'fk:pause', 'before'])
    await server().clientPause(400, 'WRITE')
    const order: string[] = []
    const write = timed(() => server().command(['SET', 'fk:pause', 'after'], { timeoutMs: 5000 }))
    const read = server()
      .command(['GET', 'fk:pause'])
      .then((v) => {
        order.push('read')
        return v
      })
    void write.then(() => order.push('write'))
    expect(await read).toBe('before')
    const { ms } = await write
    expect(ms).toBeGreaterThanOrEqual(300)
    expect(order).toEqual(['read', 'write'])
  })

  test('debugSleep(0.3) blocks PING for about 300 ms', async () => {
    const c = await Conn.open(server().port)
    await c.call(['PING'])
    const { done } = await server().debugSleep(0.3)
    const { reply, ms } = await c.call(['PING'], 5000)
    expect(reply).toBe('PONG')
    expect(ms).toBeGreaterThanOrEqual(200)
    expect(ms).toBeLessThan(3000)
    expect(await done).toBe(true)
  })

  test('setMaxmemory applies (CONFIG GET shows it)', async () => {
    await server().setMaxmemory(10 * 1024 * 1024)
    expect(await server().command(['CONFIG', 'GET', 'maxmemory'])).toEqual([
      'maxmemory',
      '10485760',
    ])
    expect(await server().command(['CONFIG', 'GET', 'maxmemory-policy'])).toEqual([
      'maxmemory-policy',
      'allkeys-lru',
    ])
    await server().setMaxmemory(5_000_000, 'noeviction')
    expect(await server().command(['CONFIG', 'GET', 'maxmemory'])).toEqual(['maxmemory', '5000000'])
    expect(await server().command(['CONFIG', 'GET', 'maxmemory-policy'])).toEqual([
      'maxmemory-policy',
      'noeviction',
    ])
  })

  test("killClients('pubsub') kills a SUBSCRIBE connection, not a normal one", async () => {
    const sub = await Conn.open(server().port)
    sub.send(['SUBSCRIBE', 'fk:channel'])
    expect(await sub.read(1, 2000)).toEqual([['subscribe', 'fk:channel', 1]])
    const normal = await Conn.open(server().port)
    await normal.call(['PING'])

    expect(await server().killClients('pubsub')).toBe(1)
    expect(await sub.closedWithin(2000)).toBe(true)
    expect(normal.closed).toBe(false)
    expect((await normal.call(['PING'])).reply).toBe('PONG')

    expect(await server().killClients('normal')).toBeGreaterThanOrEqual(1)
    expect(await normal.closedWithin(2000)).toBe(true)
  })
})

/** The server's connected_clients, not counting the connection that asks. */
async function clientCount(): Promise<number> {
  const info = String(await server().command(['INFO', 'clients']))
  return Number(/connected_clients:(\d+)/.exec(info)?.[1]) - 1
}

/** A port nothing listens on (a moment ago). */
function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

describe('runLoad', () => {
  let httpServer: http.Server | undefined
  let base = ''
  let hits = 0

  beforeAll(async () => {
    httpServer = http.createServer((req, res) => {
      hits++
      const path = req.url ?? '/'
      if (path.startsWith('/ok')) {
        res.setHeader('x-cache', hits % 2 === 0 ? 'HIT' : 'MISS')
        res.end('ok')
      } else if (path.startsWith('/fail')) {
        res.statusCode = 503
        res.end('unavailable')
      } else if (path.startsWith('/drop')) {
        req.socket.destroy()
      } else if (path.startsWith('/hang')) {
        // never answers: the driver's timeout (and close) ends it
      } else {
        res.statusCode = 404
        res.end()
      }
    })
    await new Promise<void>((resolve) => httpServer?.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    httpServer?.closeAllConnections()
    await new Promise<void>((resolve) => httpServer?.close(() => resolve()))
  })

  const total = (r: Awaited<ReturnType<typeof runLoad>>) =>
    Object.values(r.byStatus).reduce((a, b) => a + b, 0) +
    r.connectionErrors +
    r.timeouts +
    r.cancelled

  test('counts add up over 200/503/dropped sockets, and maxRequests bounds it', async () => {
    const paths = (i: number) => ({ path: ['/ok', '/ok', '/fail', '/drop'][i % 4] as string })
    const r = await runLoad({
      targets: [base, base],
      paths,
      concurrency: 8,
      durationMs: 20_000,
      maxRequests: 200,
      timeoutMs: 2000,
    })
    expect(r.stoppedBy).toBe('maxRequests')
    expect(r.requests).toBe(200)
    expect(total(r)).toBe(200)
    expect(r.byStatus['200']).toBe(100)
    expect(r.byStatus['503']).toBe(50)
    expect(r.connectionErrors).toBe(50)
    expect(r.timeouts).toBe(0)
    expect((r.byXCache.HIT ?? 0) + (r.byXCache.MISS ?? 0)).toBe(100)
    expect(r.byXCache['-']).toBe(50) // the 503s carry no X-Cache
    expect(r.errors.length).toBeGreaterThan(0)
    expect(r.errors.length).toBeLessThanOrEqual(10)
    expect(r.p50).toBeGreaterThanOrEqual(0)
    expect(r.p99).toBeGreaterThanOrEqual(r.p50)
    expect(r.max).toBeGreaterThanOrEqual(r.p99)
  })

  test('durationMs bounds it; hanging requests time out', async () => {
    const t0 = performance.now()
    const r = await runLoad({
      targets: [base],
      paths: ['/ok', '/hang'],
      concurrency: 4,
      durationMs: 600,
      maxRequests: 1_000_000,
      timeoutMs: 200,
    })
    const elapsed = performance.now() - t0
    expect(r.stoppedBy).toBe('duration')
    expect(elapsed).toBeGreaterThanOrEqual(550)
    expect(elapsed).toBeLessThan(600 + 200 + 2000)
    expect(total(r)).toBe(r.requests)
    expect(r.timeouts).toBeGreaterThan(0)
    expect(r.byStatus['200']).toBeGreaterThan(0)
    expect(r.errors.some((e) => /within 200 ms/.test(e))).toBe(true)
  })

  test('drainMs cuts requests still open when the load stops', async () => {
    const t0 = performance.now()
    const r = await runLoad({
      targets: [base],
      paths: ['/hang'],
      concurrency: 3,
      durationMs: 100,
      maxRequests: 100,
      timeoutMs: 5000,
      drainMs: 100,
    })
    expect(performance.now() - t0).toBeLessThan(2000)
    expect(r.requests).toBe(3)
    expect(r.cancelled).toBe(3)
    expect(total(r)).toBe(3)
    expect(Number.isNaN(r.p50)).toBe(true)
  })

  test('until and stopWhen end it early', async () => {
    const untilR = await runLoad({
      targets: [base],
      paths: ['/ok'],
      concurrency: 2,
      durationMs: 10_000,
      maxRequests: 1_000_000,
      until: sleep(300),
    })
    expect(untilR.stoppedBy).toBe('until')
    expect(untilR.elapsedMs).toBeLessThan(5000)
    expect(total(untilR)).toBe(untilR.requests)

    const stopR = await runLoad({
      targets: [base],
      paths: ['/fail', '/ok'],
      concurrency: 1,
      durationMs: 10_000,
      maxRequests: 1000,
      stopWhen: (p) => (p.byStatus['503'] ?? 0) >= 5,
    })
    expect(stopR.stoppedBy).toBe('stopWhen')
    expect(stopR.byStatus['503']).toBe(5)
    expect(stopR.requests).toBe(9)
  })
})
