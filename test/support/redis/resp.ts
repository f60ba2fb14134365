import net from 'node:net'

// A tiny RESP2 client for the test infrastructure: one connection, one command,
// one reply. Enough for PING and for fault injection (CLIENT KILL, FLUSHALL,
// DEBUG SLEEP, CONFIG SET, SHUTDOWN) without depending on a Redis library.

export type RespReply = string | number | null | RespError | RespReply[]

/** An error reply (`-ERR ...`). Thrown at the top level, returned inside arrays. */
export class RespError extends Error {
  override name = 'RespError'
}

export interface RespOptions {
  /** Deadline for connecting, writing and reading the whole reply. */
  timeoutMs?: number
  host?: string
}

const CRLF = '\r\n'

export function encodeCommand(args: readonly (string | number)[]): Buffer {
  const parts = args.map((a) => Buffer.from(String(a)))
  const chunks: Buffer[] = [Buffer.from(`*${parts.length}${CRLF}`)]
  for (const p of parts) chunks.push(Buffer.from(`$${p.length}${CRLF}`), p, Buffer.from(CRLF))
  return Buffer.concat(chunks)
}

/** Parses one reply at `pos`; undefined when the buffer does not hold all of it yet. */
export function parseReply(buf: Buffer, pos = 0): { value: RespReply; end: number } | undefined {
  const eol = buf.indexOf(CRLF, pos)
  if (eol < 0) return undefined
  const type = String.fromCharCode(buf[pos] ?? 0)
  const line = buf.toString('utf8', pos + 1, eol)
  const next = eol + 2
  switch (type) {
    case '+':
      return { value: line, end: next }
    case '-':
      return { value: new RespError(line), end: next }
    case ':':
      return { value: Number(line), end: next }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, end: next }
      if (buf.length < next + len + 2) return undefined
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 }
    }
    case '*': {
      const count = Number(line)
      if (count < 0) return { value: null, end: next }
      const items: RespReply[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at)
        if (!item) return undefined
        items.push(item.value)
        at = item.end
      }
      return { value: items, end: at }
    }
    default:
      throw new Error(`RESP: unexpected reply type ${JSON.stringify(type)}`)
  }
}

/** `redis://host:port`, a port number, or `{ port }` → host and port. */
function target(to: string | number, host = '127.0.0.1'): { host: string; port: number } {
  if (typeof to === 'number') return { host, port: to }
  const url = new URL(to)
  return { host: url.hostname || host, port: Number(url.port || 6379) }
}

/** Sends one command on a fresh connection and resolves with its reply. */
export function redisCommand(
  to: string | number,
  args: readonly (string | number)[],
  opts: RespOptions = {},
): Promise<RespReply> {
  const { host, port } = target(to, opts.host)
  const timeoutMs = opts.timeoutMs ?? 2000
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    let settled = false
    const socket = net.connect({ host, port })
    const finish = (err: Error | undefined, value?: RespReply) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(value ?? null)
    }
    const timer = setTimeout(() => {
      finish(new Error(`RESP: ${String(args[0])} timed out after ${timeoutMs} ms on :${port}`))
    }, timeoutMs)
    socket.on('connect', () => socket.write(encodeCommand(args)))
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      try {
        const reply = parseReply(buf)
        if (!reply) return
        if (reply.value instanceof RespError) finish(reply.value)
        else finish(undefined, reply.value)
      } catch (err) {
        finish(err as Error)
      }
    })
    socket.on('error', (err) => finish(err))
    socket.on('close', () =>
      finish(new Error(`RESP: connection to :${port} closed before a reply`)),
    )
  })
}

/** True when the server answers PING with PONG within the deadline. */
export async function ping(to: string | number, timeoutMs = 500): Promise<boolean> {
  try {
    return (await redisCommand(to, ['PING'], { timeoutMs })) === 'PONG'
  } catch {
    return false
  }
}
