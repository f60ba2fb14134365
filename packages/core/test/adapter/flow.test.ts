import { EventEmitter } from 'node:events'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { handleRequest } from '../../src/adapter/flow'
import type { HeldWrite, MissView, RequestPort } from '../../src/adapter/port'
import { CacheEngine } from '../../src/engine/engine'
import type { Fill } from '../../src/engine/fill'
import type { Replay } from '../../src/engine/replay'
import type { CacheRule } from '../../src/rules/types'
import { FakeOrigin } from '../support'

/**
 * A port that records what core decided. `forward` and `hold` run the
 * (fake) origin, counted; `next` and `pass` count an origin call too.
 */
class RecordingPort implements RequestPort<string> {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  sent: Replay | undefined
  view: MissView | undefined
  write: HeldWrite | undefined
  constructor(
    readonly origin: FakeOrigin,
    readonly method: string,
    readonly url: string,
    readonly headers: IncomingHttpHeaders = {},
    readonly user?: string,
  ) {
    this.req = Object.assign(new EventEmitter(), { headers, rawHeaders: [] }) as never
    this.res = Object.assign(new EventEmitter(), { getHeaders: () => ({}) }) as never
  }
  identify() {
    return this.user
  }
  listener() {
    return undefined
  }
  next() {
    this.origin.serve(undefined)
    return 'next'
  }
  send(r: Replay) {
    this.sent = r
    return `send ${r.status}`
  }
  pass(outcome: readonly [string, string]) {
    this.origin.serve(undefined)
    return `pass ${outcome[0]}`
  }
  forward(fill: Fill, view: MissView) {
    this.view = view
    this.origin.serve(fill, { headers: { 'content-type': 'text/plain' } })
    this.res.emit('finish')
    return 'forward'
  }
  hold(write: HeldWrite) {
    this.write = write
    this.origin.serve(undefined)
    return 'hold'
  }
  fail(err: unknown): string {
    throw err
  }
}

const rules: CacheRule[] = [
  { name: 'product', path: '/products/:id', ttl: 60, tags: ['product:{params.id}'] },
  { name: 'search', path: '/search', ttl: 60, key: { query: ['q'] } },
  { name: 'me', path: '/me', ttl: 60, perUser: true },
  { name: 'write', path: '/products/:id', invalidates: ['product:{params.id}'] },
]

describe('handleRequest: the request flow in core, carried out by a port', () => {
  let engine: CacheEngine
  let origin: FakeOrigin
  beforeEach(() => {
    engine = new CacheEngine({ rules, logger: false })
    origin = new FakeOrigin()
  })
  afterEach(() => engine.close())

  const run = (method: string, url: string, headers?: IncomingHttpHeaders, user?: string) => {
    const port = new RecordingPort(origin, method, url, headers, user)
    return { port, result: handleRequest(engine, port) }
  }

  it('goes on to the app when no rule matches', async () => {
    expect(await run('GET', '/elsewhere').result).toBe('next')
    expect(origin.calls).toBe(1)
  })

  it('forwards a miss, then sends the stored copy without running the route', async () => {
    const miss = run('GET', '/products/1', { 'if-none-match': '"x"', 'x-trace': '1' })
    expect(await miss.result).toBe('forward')
    // The route sees neither the client's validators nor headers the key does not hold.
    expect(miss.port.headers).toEqual({})
    expect(miss.port.view).toEqual({
      conditionals: {
        'if-none-match': '"x"',
        'if-modified-since': undefined,
        'accept-encoding': undefined,
      },
      query: undefined,
      asGet: false,
    })
    const hit = run('GET', '/products/1')
    expect(await hit.result).toBe('send 200')
    expect(hit.port.sent?.body?.toString()).toBe('v1')
    expect(origin.calls).toBe(1)
  })

  it('runs a HEAD miss as GET and sends a HEAD hit without a body', async () => {
    const miss = run('HEAD', '/products/2')
    expect(await miss.result).toBe('forward')
    expect(miss.port.view?.asGet).toBe(true)
    const hit = run('HEAD', '/products/2')
    expect(await hit.result).toBe('send 200')
    expect(hit.port.sent?.body).toBeUndefined()
    expect(hit.port.sent?.headers).toContain('content-length')
    expect(origin.calls).toBe(1)
  })

  it('gives the route only the keyed query parameters', async () => {
    const miss = run('GET', '/search?q=shoe&utm_source=x')
    expect(await miss.result).toBe('forward')
    expect(miss.port.view?.query).toBe('q=shoe')
    expect(await run('GET', '/search?utm_source=y&q=shoe').result).toBe('send 200')
    expect(origin.calls).toBe(1)
  })

  it('passes a bypass with its outcome: an anonymous request to a per-user rule', async () => {
    expect(await run('GET', '/me').result).toBe('pass BYPASS')
    expect(await run('GET', '/me').result).toBe('pass BYPASS')
    expect(origin.calls).toBe(2)
  })

  it('keys a per-user rule by the port identity', async () => {
    expect(await run('GET', '/me', {}, 'ann').result).toBe('forward')
    expect(await run('GET', '/me', {}, 'bob').result).toBe('forward')
    expect(await run('GET', '/me', {}, 'ann').result).toBe('send 200')
    expect(origin.calls).toBe(2)
  })

  it('answers only-if-cached without a copy with the 504, the route not run', async () => {
    const r = run('GET', '/products/3', { 'cache-control': 'only-if-cached' })
    expect(await r.result).toBe('send 504')
    expect(origin.calls).toBe(0)
  })

  it('holds a write: 2xx waits for the invalidation, which makes the next read a miss', async () => {
    await run('GET', '/products/4').result
    expect(await run('GET', '/products/4').result).toBe('send 200')
    const w = run('PUT', '/products/4')
    expect(await w.result).toBe('hold')
    const write = w.port.write as HeldWrite
    expect([write.holds(200), write.holds(204), write.holds(302), write.holds(500)]).toEqual([
      true,
      true,
      false,
      false,
    ])
    expect(write.failure.status).toBe(503)
    expect(write.failure.headers).toEqual(expect.arrayContaining(['cache-control', 'no-store']))
    await write.invalidate({})
    expect(await run('GET', '/products/4').result).toBe('forward')
    expect(origin.calls).toBe(3)
  })
})
