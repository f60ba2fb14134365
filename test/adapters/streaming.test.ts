import http, { type IncomingMessage, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheRule } from '@cachet/core'
import { cacheMiddleware as expressCache } from '@cachet/express'
import { cacheMiddleware as koaCache } from '@cachet/koa'
import express from 'express'
import Koa from 'koa'

// A large streamed response through the cache, in both adapters: it reaches
// the client whole, the cache copies nothing past its size cap, and the
// route's stream is slowed down by a slow client (backpressure) rather than
// buffered in the server.

const CHUNK = 64 * 1024
const CHUNKS = 512 // 32 MiB
const TOTAL = CHUNK * CHUNKS

const rules: CacheRule[] = [{ path: '/big/:id', ttl: 60, maxBodySize: '1MiB' }]

interface App {
  listener: RequestListener
  /** Bytes the route has produced so far (the current response). */
  produced: () => number
  calls: () => number
}

function chunk(i: number): Buffer {
  return Buffer.alloc(CHUNK, i % 251)
}

function expressApp(): App {
  let produced = 0
  let calls = 0
  const app = express()
  app.use(expressCache(rules))
  app.get('/big/:id', async (_req, res) => {
    calls++
    produced = 0
    res.type('application/octet-stream')
    for (let i = 0; i < CHUNKS; i++) {
      produced += CHUNK
      if (!res.write(chunk(i))) await new Promise((r) => res.once('drain', r))
    }
    res.end()
  })
  return {
    listener: app as unknown as RequestListener,
    produced: () => produced,
    calls: () => calls,
  }
}

function koaApp(): App {
  let produced = 0
  let calls = 0
  const app = new Koa()
  app.use(koaCache(rules))
  app.use(async (ctx) => {
    calls++
    produced = 0
    ctx.type = 'application/octet-stream'
    ctx.body = Readable.from(
      (function* () {
        for (let i = 0; i < CHUNKS; i++) {
          produced += CHUNK
          yield chunk(i)
        }
      })(),
      { objectMode: false, highWaterMark: CHUNK },
    )
  })
  return { listener: app.callback(), produced: () => produced, calls: () => calls }
}

describe.each([
  ['express', expressApp],
  ['koa', koaApp],
])('%s: a 32 MiB stream past the 1 MiB cap', (_name, build) => {
  let app: App
  let server: http.Server
  let base: string

  beforeAll(async () => {
    app = build()
    server = http.createServer(app.listener)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  function open(path: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      http.get(new URL(path, base), resolve).on('error', reject)
    })
  }

  async function readAll(res: IncomingMessage): Promise<{ bytes: number; ok: boolean }> {
    let bytes = 0
    let ok = true
    for await (const c of res as AsyncIterable<Buffer>) {
      // Every chunk is the route's, byte for byte.
      const first = bytes
      for (let at = 0; at < c.length; at += 4096) {
        const offset = first + at
        if (c[at] !== Math.floor(offset / CHUNK) % 251) ok = false
      }
      bytes += c.length
    }
    return { bytes, ok }
  }

  test('a paused client holds the route back; the body arrives whole; nothing is stored', async () => {
    const res = await open('/big/1')
    expect(res.headers['x-cache']).toBe('MISS')
    res.pause()
    // Long enough for a route that ignored backpressure to write all 32 MiB.
    await sleep(400)
    const producedWhilePaused = app.produced()
    expect(producedWhilePaused).toBeLessThan(TOTAL / 2)
    const { bytes, ok } = await readAll(res)
    expect(bytes).toBe(TOTAL)
    expect(ok).toBe(true)
    expect(app.produced()).toBe(TOTAL)

    // Past the cap nothing was kept: the next request goes to the route again,
    // without capture (hit-for-pass), and is whole too.
    const again = await open('/big/1')
    expect(again.headers['x-cache']).toBe('BYPASS')
    expect(again.headers['cache-status']).toBe('cachet; fwd=bypass; detail=too-large')
    expect((await readAll(again)).bytes).toBe(TOTAL)
    expect(app.calls()).toBe(2)
  })
})
