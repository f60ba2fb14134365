import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { Socket } from 'node:net'
import express from 'express'
import {
  internalRequest,
  isInternalRequest,
  serverListener,
} from '../../src/engine/internal-request'
import { sleep } from '../support'

// The npm alias of Express 4 has no types of its own.
const express4 = require('express4') as typeof express

/** A request as a server would have received it (not connected: no peer address). */
function fromRequest(headers: IncomingHttpHeaders): IncomingMessage {
  const from = new IncomingMessage(new Socket())
  from.headers = headers
  return from
}

/** What a listener saw of the request it was given. */
interface Seen {
  method: string | undefined
  url: string | undefined
  httpVersion: string
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  internal: boolean
}

const see = (req: IncomingMessage): Seen => ({
  method: req.method,
  url: req.url,
  httpVersion: req.httpVersion,
  headers: { ...req.headers },
  rawHeaders: [...req.rawHeaders],
  internal: isInternalRequest(req),
})

describe('internalRequest with a plain request listener', () => {
  test("resolves with the listener's status once the response has finished", async () => {
    const seen: Seen[] = []
    let finished = false
    let calls = 0
    const listener: RequestListener = (req, res) => {
      calls++
      seen.push(see(req))
      res.on('finish', () => {
        finished = true
      })
      setTimeout(() => {
        res.statusCode = 203
        res.setHeader('content-type', 'text/plain')
        res.end('done')
      }, 10)
    }
    const status = await internalRequest(listener, { url: '/a/b?x=1', from: fromRequest({}) }, 5000)
    expect(status).toBe(203)
    expect(finished).toBe(true)
    expect(calls).toBe(1)
    expect(seen[0]).toMatchObject({
      method: 'GET',
      url: '/a/b?x=1',
      httpVersion: '1.1',
      internal: true,
    })
  })

  test('headers are copied, minus hop-by-hop, body, conditional and range ones', async () => {
    const kept: IncomingHttpHeaders = {
      host: 'shop.example',
      accept: 'application/json',
      'accept-language': 'fr',
      cookie: 'sid=1',
      authorization: 'Bearer t',
      'x-tenant': 'acme',
      'user-agent': 'ua',
      'set-cookie': ['a=1', 'b=2'],
    }
    const dropped: IncomingHttpHeaders = {
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'content-length': '12',
      'content-type': 'application/json',
      expect: '100-continue',
      upgrade: 'websocket',
      te: 'trailers',
      'if-none-match': '"e1"',
      'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT',
      'if-match': '"e1"',
      'if-unmodified-since': 'Mon, 01 Jan 2024 00:00:00 GMT',
      'if-range': '"e1"',
      range: 'bytes=0-1',
    }
    const from = fromRequest({ ...kept, ...dropped })
    const seen: Seen[] = []
    const listener: RequestListener = (req, res) => {
      seen.push(see(req))
      // Changing the copy leaves the request it came from alone.
      delete req.headers.accept
      res.end()
    }
    expect(await internalRequest(listener, { url: '/', from }, 5000)).toBe(200)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers).toEqual(kept)
    expect(seen[0]?.rawHeaders).toEqual([
      'host',
      'shop.example',
      'accept',
      'application/json',
      'accept-language',
      'fr',
      'cookie',
      'sid=1',
      'authorization',
      'Bearer t',
      'x-tenant',
      'acme',
      'user-agent',
      'ua',
      'set-cookie',
      'a=1',
      'set-cookie',
      'b=2',
    ])
    expect(from.headers.accept).toBe('application/json')
    expect(from.headers['if-none-match']).toBe('"e1"')
  })

  test('the request has no body: reading it ends at once', async () => {
    let calls = 0
    const listener: RequestListener = async (req, res) => {
      calls++
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      res.statusCode = chunks.length === 0 && req.complete ? 204 : 500
      res.end()
    }
    const from = fromRequest({ 'content-length': '5', 'transfer-encoding': 'chunked' })
    expect(await internalRequest(listener, { url: '/', from }, 5000)).toBe(204)
    expect(calls).toBe(1)
  })

  test('a large streamed body goes nowhere and the response still finishes', async () => {
    let calls = 0
    const listener: RequestListener = (_req, res) => {
      calls++
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      const chunk = Buffer.alloc(64 * 1024, 1)
      for (let i = 0; i < 64; i++) res.write(chunk) // 4 MiB, past any high-water mark
      res.end()
    }
    expect(await internalRequest(listener, { url: '/big', from: fromRequest({}) }, 10_000)).toBe(
      200,
    )
    expect(calls).toBe(1)
  })

  test('a status set with writeHead is the one resolved', async () => {
    const listener: RequestListener = (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('no')
    }
    expect(await internalRequest(listener, { url: '/', from: fromRequest({}) }, 5000)).toBe(404)
  })

  test('a listener that never answers resolves 0 after the timeout; its response is destroyed', async () => {
    let response: import('node:http').ServerResponse | undefined
    let calls = 0
    const listener: RequestListener = (_req, res) => {
      calls++
      response = res
    }
    const started = Date.now()
    const status = await internalRequest(listener, { url: '/', from: fromRequest({}) }, 30)
    expect(status).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(25)
    expect(calls).toBe(1)
    expect(response?.destroyed).toBe(true)
    // A late answer is harmless.
    expect(() => response?.end('late')).not.toThrow()
  })

  test('a listener that throws synchronously resolves 0 (never rejects)', async () => {
    let calls = 0
    const listener: RequestListener = () => {
      calls++
      throw new Error('boom')
    }
    await expect(
      internalRequest(listener, { url: '/', from: fromRequest({}) }, 5000),
    ).resolves.toBe(0)
    expect(calls).toBe(1)
  })

  test('a response destroyed by the listener before finishing resolves 0', async () => {
    const listener: RequestListener = (_req, res) => {
      res.write('partial')
      res.destroy()
    }
    expect(await internalRequest(listener, { url: '/', from: fromRequest({}) }, 5000)).toBe(0)
  })

  test('isInternalRequest is false for an ordinary request', () => {
    expect(isInternalRequest(fromRequest({}))).toBe(false)
  })
})

describe('internalRequest through Express', () => {
  test.each([
    ['express 5', express],
    ['express 4', express4],
  ])('%s: the route runs and res.send works', async (_, make) => {
    const app = make()
    const seen: { internal: boolean; id: string; protocol: string; query: unknown }[] = []
    app.get('/items/:id', (req, res) => {
      seen.push({
        internal: isInternalRequest(req),
        id: req.params.id as string,
        protocol: req.protocol,
        query: { ...(req.query as object) },
      })
      res.set('etag', '"x"')
      res.send(`item ${req.params.id}`)
    })
    // The client's If-None-Match is not passed on: the route answers in full, not 304.
    const from = fromRequest({ host: 'h', 'if-none-match': '"x"' })
    expect(await internalRequest(app, { url: '/items/7?lang=fr', from }, 5000)).toBe(200)
    expect(seen).toEqual([{ internal: true, id: '7', protocol: 'http', query: { lang: 'fr' } }])
    expect(await internalRequest(app, { url: '/nothing', from }, 5000)).toBe(404)
    expect(seen).toHaveLength(1)
  })

  test('an Express route that throws answers 500, which is resolved', async () => {
    const app = express()
    app.get('/boom', () => {
      throw new Error('boom')
    })
    app.use(((_err, _req, res, _next) => {
      res.status(500).send('error')
    }) as express.ErrorRequestHandler)
    expect(await internalRequest(app, { url: '/boom', from: fromRequest({}) }, 5000)).toBe(500)
  })
})

describe('serverListener and internal requests over a real server', () => {
  let server: Server | undefined
  afterEach(async () => {
    const s = server
    server = undefined
    if (s !== undefined) {
      s.closeAllConnections()
      await new Promise((resolve) => s.close(resolve))
    }
  })

  async function listen(listener: RequestListener): Promise<number> {
    const s = createServer(listener)
    server = s
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    return (s.address() as AddressInfo).port
  }

  function get(port: number, path: string, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      req.end()
    })
  }

  test('serverListener(req) is the listener of the server that received the request', async () => {
    let found: RequestListener | undefined
    let calls = 0
    const listener: RequestListener = (req, res) => {
      calls++
      found = serverListener(req)
      res.end('ok')
    }
    const port = await listen(listener)
    expect(await get(port, '/')).toEqual({ status: 200, body: 'ok' })
    expect(found).toBe(listener)
    expect(calls).toBe(1)
  })

  test('serverListener is the Express app when the app is the listener', async () => {
    const app = express()
    let found: RequestListener | undefined
    app.get('/', (req, res) => {
      found = serverListener(req)
      res.send('ok')
    })
    const port = await listen(app)
    expect((await get(port, '/')).status).toBe(200)
    expect(found).toBe(app)
  })

  test('an internal request made from a real one runs through the same listener, with its peer', async () => {
    const inner: {
      internal: boolean
      peer: string | undefined
      listener: unknown
      lang: unknown
    }[] = []
    let innerStatus: number | undefined
    let calls = 0
    const listener: RequestListener = (req, res) => {
      calls++
      if (req.url === '/inner') {
        inner.push({
          internal: isInternalRequest(req),
          peer: req.socket.remoteAddress,
          listener: serverListener(req),
          lang: req.headers['accept-language'],
        })
        res.statusCode = 202
        res.end('inner')
        return
      }
      const self = serverListener(req)
      if (self === undefined) throw new Error('no listener')
      void internalRequest(self, { url: '/inner', from: req }, 5000).then((status) => {
        innerStatus = status
        res.end(`outer ${status}`)
      })
    }
    const port = await listen(listener)
    expect(await get(port, '/outer', { 'accept-language': 'de' })).toEqual({
      status: 200,
      body: 'outer 202',
    })
    expect(innerStatus).toBe(202)
    expect(inner).toEqual([{ internal: true, peer: '127.0.0.1', listener: undefined, lang: 'de' }])
    expect(calls).toBe(2)
  })

  test('a request that is not internal is reported as such inside a real server', async () => {
    const flags: boolean[] = []
    const port = await listen((req, res) => {
      flags.push(isInternalRequest(req))
      res.end()
    })
    await get(port, '/')
    await sleep(0)
    expect(flags).toEqual([false])
  })
})
