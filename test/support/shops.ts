import { createHash } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createShop as createExpressShop } from '@cachet/express-shop'
import { createShop as createFastifyShop } from '@cachet/fastify-shop'
import { createShop as createKoaShop } from '@cachet/koa-shop'
import { blobBytes, streamChunk } from '@cachet/shop-common'
import request from 'supertest'

// The surface of an example shop that the parity suite relies on. Declared
// here, structurally, so that `tsc` checks both shops against the same shape.
export interface ShopConfig {
  originDelayMs: number
  l1MaxBytes: number
  /** Memory L1 + Redis L2 + the Redis bus; unset: memory only. */
  redisUrl: string
  /** Prefix of the shop's Redis keys: one per test keeps tests apart on one Redis. */
  redisPrefix: string
  /** The Redis tier's lease; short in the parity suite, where a fresh keyspace waits one out. */
  redisLease: string
  /** CACHE_ADMIN_TOKEN: mounts the admin API at `/admin/cache` (token name `admin`); unset: 404. */
  adminToken: string
  /** CACHE_RULE_OPTIONS: options merged into the named rules. */
  ruleOptions: Record<string, Record<string, unknown>>
}

export interface InvalidateTarget {
  tags?: string[]
  pattern?: string
  user?: string
}

export interface ShopLike {
  handler: (req: IncomingMessage, res: ServerResponse) => void
  cache: {
    readonly ready: Promise<unknown>
    invalidate(target: InvalidateTarget): Promise<unknown>
    close(): Promise<void>
    /**
     * The cache middleware's engine (both adapters' handles carry it), for the
     * counters of background work no request waits on. Optional here because
     * the shops' declared `ShopCache` does not name it.
     */
    readonly engine?: {
      stats(): { revalidations: Record<string, number>; stale: Record<string, number> }
    }
  }
  close(): Promise<void>
}

export type CreateShop = (config?: Partial<ShopConfig>) => ShopLike

export interface Adapter {
  name: 'express' | 'koa' | 'fastify'
  createShop: CreateShop
}

export const adapters: readonly Adapter[] = [
  { name: 'express', createShop: createExpressShop },
  { name: 'koa', createShop: createKoaShop },
  { name: 'fastify', createShop: createFastifyShop },
]

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST'

export interface RequestSpec {
  method?: Method
  path: string
  headers?: Record<string, string>
  /** An object is sent as JSON; a string as `text/plain`. */
  body?: string | object
}

/** One response, with its body as the exact bytes that came over the wire. */
export interface Reply {
  status: number
  /** The status line's reason phrase (`OK`, `Not Modified`...). */
  statusMessage: string
  headers: Record<string, string | undefined>
  body: Buffer
}

export interface OriginCalls {
  total: number
  byRoute: Record<string, number>
}

export interface RunningShop {
  url: string
  shop: ShopLike
  send(spec: RequestSpec): Promise<Reply>
  calls(): Promise<OriginCalls>
  close(): Promise<void>
}

/**
 * Starts `create(config)` behind a real HTTP server on an ephemeral loopback
 * port. Supertest only ever gets the URL, so it never starts a server itself.
 */
export async function startShop(
  create: CreateShop,
  config?: Partial<ShopConfig>,
): Promise<RunningShop> {
  const shop = create(config)
  await shop.cache.ready
  const server = http.createServer(shop.handler)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
  } catch (error) {
    await shop.close()
    throw error
  }
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`

  return {
    url,
    shop,
    send: (spec) => send(url, spec),
    async calls() {
      const reply = await send(url, { path: '/__origin/calls' })
      if (reply.status !== 200) throw new Error(`GET /__origin/calls answered ${reply.status}`)
      return jsonBody(reply) as OriginCalls
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await shop.close()
    },
  }
}

/** Sends one request and keeps the response body as raw bytes, whatever its type. */
export async function send(url: string, spec: RequestSpec): Promise<Reply> {
  const agent = request(url)
  const path = spec.path
  let test: request.Test
  switch (spec.method ?? 'GET') {
    case 'GET':
      test = agent.get(path)
      break
    case 'HEAD':
      test = agent.head(path)
      break
    case 'PUT':
      test = agent.put(path)
      break
    case 'POST':
      test = agent.post(path)
      break
  }
  test = test.buffer(true).parse(collectBytes)
  for (const [name, value] of Object.entries(spec.headers ?? {})) test = test.set(name, value)
  if (typeof spec.body === 'string') test = test.type('text/plain').send(spec.body)
  else if (spec.body !== undefined) test = test.send(spec.body)

  const res = await test
  const headers: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(res.headers as Record<string, unknown>)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return {
    status: res.status,
    statusMessage: (res as unknown as { res: IncomingMessage }).res.statusMessage ?? '',
    headers,
    body: Buffer.isBuffer(res.body) ? res.body : Buffer.alloc(0),
  }
}

function collectBytes(res: unknown, done: (err: Error | null, body: Buffer) => void): void {
  const stream = res as IncomingMessage
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  stream.on('error', (err) => done(err, Buffer.alloc(0)))
  stream.on('end', () => done(null, Buffer.concat(chunks)))
}

export function jsonBody(reply: Reply): unknown {
  return JSON.parse(reply.body.toString('utf8'))
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The exact bytes of `GET /assets/blob-<size>.bin`. */
export function blobSha256(size: number): string {
  return sha256(blobBytes(size))
}

/** The exact bytes of `GET /stream/<chunks>`: chunk 0, chunk 1, … */
export function streamBytes(chunks: number): Buffer {
  return Buffer.concat(Array.from({ length: chunks }, (_, i) => Buffer.from(streamChunk(i))))
}

export function streamSha256(chunks: number): string {
  return sha256(streamBytes(chunks))
}
