import type { AddressInfo } from 'node:net'
import { type CacheRule, cachePlugin, type FastifyCacheOptions } from '@cachet/fastify'
import Fastify, { type FastifyInstance } from 'fastify'

// A Fastify app with the cache plugin, listening on an ephemeral loopback port,
// and a counter of origin runs per route: every test asserts it.

export interface Running {
  app: FastifyInstance
  url: string
  /** Origin handler runs, by name. */
  calls: Record<string, number>
  count(name: string): number
  get(path: string, init?: RequestInit): Promise<Reply>
  close(): Promise<void>
}

export interface Reply {
  status: number
  headers: Headers
  body: Buffer
  xCache: string | null
  text(): string
  json(): unknown
}

export async function send(url: string, init?: RequestInit): Promise<Reply> {
  const res = await fetch(url, init)
  const body = Buffer.from(await res.arrayBuffer())
  return {
    status: res.status,
    headers: res.headers,
    body,
    xCache: res.headers.get('x-cache'),
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')),
  }
}

/**
 * `routes(app, count)` adds the routes after the plugin has loaded; `before`
 * runs on the app before the plugin is registered (hooks that must come first).
 */
export async function start(
  options: readonly CacheRule[] | FastifyCacheOptions,
  routes: (app: FastifyInstance, count: (name: string) => number) => void,
  before?: (app: FastifyInstance) => void,
): Promise<Running> {
  const calls: Record<string, number> = {}
  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1
    return calls[name]
  }
  const app = Fastify()
  before?.(app)
  const pluginOptions = (
    Array.isArray(options) ? { rules: options } : options
  ) as FastifyCacheOptions
  await app.register(cachePlugin, pluginOptions)
  routes(app, count)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return {
    app,
    url,
    calls,
    count: (name) => calls[name] ?? 0,
    get: (path, init) => send(`${url}${path}`, init),
    close: () => app.close(),
  }
}

/** Moves `Date.now` forward (the cache's clock, in this process); `restore()` puts it back. */
export class Clock {
  readonly #realNow = Date.now
  #shift = 0
  advance(ms: number): void {
    this.#shift += ms
    const real = this.#realNow
    const shift = this.#shift
    Date.now = () => real() + shift
  }
  restore(): void {
    Date.now = this.#realNow
    this.#shift = 0
  }
}
