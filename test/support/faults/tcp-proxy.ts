import net, { type AddressInfo } from 'node:net'

// A tiny TCP proxy on 127.0.0.1 for fault-injection tests: put it between a client
// and a server (Redis, typically) and make the network slow, silent or hostile.
//
//   latency    every chunk, in each direction, is delivered `ms` (+ jitter) after it
//              arrived; a round trip gains 2 × ms. One FIFO queue per direction of
//              each connection, drained by one timer: order is always preserved.
//   blackhole  open connections stay open and new ones are accepted, but nothing is
//              forwarded either way. Data is HELD, not dropped (like a partition that
//              TCP outlives): heal() delivers it, in order. A connection accepted
//              during the blackhole gets its upstream connection only at heal(), so the
//              server sees nothing of it meanwhile. A FIN or RST from one side is held
//              too (the other side learns of it only after heal()).
//   resetAll   every open connection pair is closed with a TCP RST on both sides.
//   refuse     new connections are accepted and reset at once (the client sees
//              ECONNRESET or a close before any reply); open ones are untouched.
//
// Held data is bounded: above HOLD_LIMIT bytes queued in one direction, the proxy
// stops reading from that side (TCP backpressure) until the queue drains.

export interface TcpProxyOptions {
  /** The target's port. */
  port: number
  /** The target's host. Default 127.0.0.1. */
  host?: string
  /** Listen on this port instead of a free one (to bring a proxy back on the same address). */
  listenPort?: number
}

export interface TcpProxy {
  /** The proxy's own port on 127.0.0.1. */
  readonly port: number
  /** `redis://127.0.0.1:PORT` (the proxy's address, for Redis clients). */
  readonly url: string
  /** The target it forwards to. */
  readonly target: { host: string; port: number }
  /**
   * Delays every chunk in each direction by `ms`, plus a uniformly random 0..jitterMs.
   * Order is preserved per connection and direction (a later chunk never overtakes an
   * earlier one). Applies to chunks that arrive from now on.
   */
  setLatency(ms: number, jitterMs?: number): void
  /** Forward nothing in either direction; data is held (see the file comment). */
  blackhole(): void
  /** Whether blackhole() is in effect. */
  readonly blackholed: boolean
  /** Closes every open connection pair with a TCP RST (client side and upstream side). */
  resetAll(): void
  /** While on, every new connection is reset as soon as it is accepted. */
  refuse(on: boolean): void
  /** Latency 0, no blackhole (held data is delivered), no refusal. */
  heal(): void
  /** Client connections accepted and not yet closed (refused ones excluded). */
  connections(): number
  /** Connections accepted since the start (refused ones included). */
  accepted(): number
  /** Destroys every socket and the listening server. Idempotent. */
  close(): Promise<void>
}

const HOLD_LIMIT = 8 * 1024 * 1024
const CLOSE_BOUND_MS = 2000

type Item =
  | { kind: 'data'; chunk: Buffer; due: number }
  | { kind: 'end'; due: number }
  | { kind: 'reset'; due: number }

interface Settings {
  latencyMs: number
  jitterMs: number
  blackholed: boolean
}

/** One direction of one connection: a FIFO of chunks (and a final end or reset), drained by one timer. */
class Pipe {
  private readonly queue: Item[] = []
  private bytes = 0
  private timer: NodeJS.Timeout | undefined
  private waitingDrain = false
  private lastDue = 0
  private finished = false
  /** The source ended or closed: nothing more will be queued. */
  sourceDone = false

  constructor(
    private readonly settings: Settings,
    private readonly from: () => net.Socket | undefined,
    private readonly to: () => net.Socket | undefined,
  ) {}

  private due(): number {
    const { latencyMs, jitterMs } = this.settings
    const delay = latencyMs + (jitterMs > 0 ? Math.random() * jitterMs : 0)
    // Never earlier than the chunk before it: the queue is FIFO anyway, this keeps
    // the delays of consecutive chunks from bunching up when the latency drops.
    this.lastDue = Math.max(this.lastDue, Date.now() + delay)
    return this.lastDue
  }

  data(chunk: Buffer): void {
    if (this.finished || this.sourceDone) return
    this.queue.push({ kind: 'data', chunk, due: this.due() })
    this.bytes += chunk.length
    const from = this.from()
    if (from && this.bytes > HOLD_LIMIT && !from.isPaused()) from.pause()
    this.pump()
  }

  /** The source sent FIN (`reset` false) or was closed abruptly (`reset` true). */
  close(reset: boolean): void {
    if (this.finished || this.sourceDone) return
    this.sourceDone = true
    this.queue.push({ kind: reset ? 'reset' : 'end', due: this.due() })
    this.pump()
  }

  pump(): void {
    if (this.finished || this.timer || this.waitingDrain || this.settings.blackholed) return
    const to = this.to()
    if (!to) return // upstream not connected yet (accepted during a blackhole)
    while (this.queue.length > 0) {
      const head = this.queue[0] as Item
      const wait = head.due - Date.now()
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined
          this.pump()
        }, wait)
        return
      }
      this.queue.shift()
      if (to.destroyed) {
        this.discard()
        return
      }
      if (head.kind === 'end') {
        to.end()
      } else if (head.kind === 'reset') {
        resetSocket(to)
      } else {
        this.bytes -= head.chunk.length
        const from = this.from()
        if (from?.isPaused() && this.bytes < HOLD_LIMIT / 2 && !from.destroyed) from.resume()
        if (!to.write(head.chunk)) {
          this.waitingDrain = true
          to.once('drain', () => {
            this.waitingDrain = false
            this.pump()
          })
          return
        }
      }
    }
  }

  /** Drops everything queued and stops for good. */
  discard(): void {
    this.finished = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.queue.length = 0
    this.bytes = 0
  }
}

/** RST when the socket is connected; a plain destroy otherwise (connecting or already gone). */
function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return
  if (socket.connecting || socket.pending) {
    socket.destroy()
    return
  }
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

interface Pair {
  client: net.Socket
  upstream: net.Socket | undefined
  up: Pipe // client → upstream
  down: Pipe // upstream → client
  clientClosed: boolean
}

/** Starts a proxy on a free port of 127.0.0.1 that forwards to `host:port`. */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const target = { host: opts.host ?? '127.0.0.1', port: opts.port }
  const settings: Settings = { latencyMs: 0, jitterMs: 0, blackholed: false }
  const pairs = new Set<Pair>()
  let refusing = false
  let closed = false
  let acceptedCount = 0

  const connectUpstream = (pair: Pair) => {
    if (pair.upstream || closed) return
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true })
    upstream.setNoDelay(true)
    pair.upstream = upstream
    upstream.on('data', (chunk: Buffer) => pair.down.data(chunk))
    upstream.on('end', () => pair.down.close(false))
    upstream.on('error', () => {}) // 'close' follows, with hadError
    upstream.on('close', () => {
      pair.down.close(true) // no-op after a clean 'end'
      pair.up.discard() // nowhere to deliver to any more
      forget(pair)
    })
    pair.up.pump()
    pair.down.pump()
  }

  const forget = (pair: Pair) => {
    const upstreamGone = !pair.upstream || pair.upstream.destroyed
    if (pair.clientClosed && upstreamGone) {
      pair.up.discard()
      pair.down.discard()
      pairs.delete(pair)
    }
  }

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    acceptedCount++
    client.on('error', () => {})
    if (refusing || closed) {
      resetSocket(client)
      return
    }
    client.setNoDelay(true)
    const pair: Pair = {
      client,
      upstream: undefined,
      clientClosed: false,
      up: new Pipe(
        settings,
        () => client,
        () => pair.upstream,
      ),
      down: new Pipe(
        settings,
        () => pair.upstream,
        () => (pair.clientClosed ? undefined : client),
      ),
    }
    pairs.add(pair)
    client.on('data', (chunk: Buffer) => pair.up.data(chunk))
    client.on('end', () => pair.up.close(false))
    client.on('close', () => {
      pair.clientClosed = true
      pair.up.close(true) // no-op after a clean 'end'
      pair.down.discard()
      forget(pair)
    })
    if (!settings.blackholed) connectUpstream(pair)
  })
  server.on('error', () => {})

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port

  const destroyPair = (pair: Pair, reset: boolean) => {
    pair.up.discard()
    pair.down.discard()
    pair.clientClosed = true
    if (reset) {
      resetSocket(pair.client)
      if (pair.upstream) resetSocket(pair.upstream)
    } else {
      pair.client.destroy()
      pair.upstream?.destroy()
    }
    pairs.delete(pair)
  }

  let closing: Promise<void> | undefined

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    target,
    setLatency(ms: number, jitterMs = 0) {
      if (!(ms >= 0) || !(jitterMs >= 0)) throw new Error(`bad latency ${ms} (+${jitterMs}) ms`)
      settings.latencyMs = ms
      settings.jitterMs = jitterMs
    },
    blackhole() {
      settings.blackholed = true
    },
    get blackholed() {
      return settings.blackholed
    },
    resetAll() {
      for (const pair of [...pairs]) destroyPair(pair, true)
    },
    refuse(on: boolean) {
      refusing = on
    },
    heal() {
      settings.latencyMs = 0
      settings.jitterMs = 0
      settings.blackholed = false
      refusing = false
      // Pairs whose client left during the blackhole before any upstream connection
      // was made are gone already (the server never sees them).
      for (const pair of [...pairs]) {
        connectUpstream(pair)
        pair.up.pump()
        pair.down.pump()
      }
    },
    connections() {
      let open = 0
      for (const pair of pairs) if (!pair.clientClosed) open++
      return open
    },
    accepted() {
      return acceptedCount
    },
    close() {
      closing ??= (async () => {
        closed = true
        const done = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const pair of [...pairs]) destroyPair(pair, false)
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          done,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, CLOSE_BOUND_MS)
          }),
        ])
        clearTimeout(timer)
      })()
      return closing
    },
  }
}
