import { Readable } from 'node:stream'
import type { CacheRule } from '@cachet/fastify'
import { Clock, type Running, start } from './helpers'

// What a Fastify route sends, through the cache plugin, over real HTTP: every
// payload kind Fastify writes, HEAD, the client's conditional requests, and
// errors thrown in handlers; each test counts the origin's runs.

const rules: CacheRule[] = [
  { name: 'kind', path: '/kind/:kind', ttl: 60 },
  { name: 'own-head', path: '/own/:id', ttl: 60 },
  {
    name: 'flaky',
    path: '/flaky/:id',
    ttl: 1,
    staleIfError: 60,
    statuses: [200, 404],
  },
]

let mode: 'ok' | 'throw' | 'throw503' | 'throw404' | 'answer503' = 'ok'
let running: Running
const clock = new Clock()

beforeAll(async () => {
  running = await start(rules, (app, count) => {
    app.get('/kind/object', async () => ({ kind: 'object', run: count('object') }))
    app.get(
      '/kind/schema',
      {
        schema: { response: { 200: { type: 'object', properties: { kept: { type: 'number' } } } } },
      },
      async () => ({ kept: count('schema'), dropped: 'by the serializer' }),
    )
    app.get('/kind/string', async (_request, reply) => {
      reply.type('text/plain; charset=utf-8')
      return `string ${count('string')}`
    })
    app.get('/kind/buffer', async (_request, reply) => {
      reply.type('application/octet-stream')
      return Buffer.from([0, 1, 2, 255, count('buffer')])
    })
    app.get('/kind/stream', async (_request, reply) => {
      const n = count('stream')
      reply.type('text/plain')
      return Readable.from(
        (function* () {
          for (let i = 0; i < 50; i++) yield Buffer.from(`chunk ${i} of run ${n}\n`)
        })(),
      )
    })
    app.get('/kind/web', async (_request, reply) => {
      const n = count('web')
      reply.type('text/plain')
      return new ReadableStream({
        start(controller) {
          for (let i = 0; i < 5; i++) controller.enqueue(new TextEncoder().encode(`web ${i}/${n};`))
          controller.close()
        },
      })
    })
    app.get('/kind/empty', async (_request, reply) => {
      count('empty')
      return reply.code(200).send()
    })
    app.get('/kind/response', async () => {
      count('response')
      return new Response('from a fetch Response', { headers: { 'content-type': 'text/plain' } })
    })
    app.get('/kind/conditional', async (request) => ({
      run: count('conditional'),
      sawIfNoneMatch: request.headers['if-none-match'] ?? null,
    }))
    // A HEAD route of its own beside the GET route.
    app.head('/own/:id', async (_request, reply) => {
      count('own-head')
      return reply.header('x-own', 'head').send()
    })
    app.get('/own/:id', async () => ({ run: count('own-get') }))
    app.get('/flaky/:id', async (request, reply) => {
      const run = count('flaky')
      const { id } = request.params as { id: string }
      if (mode === 'throw') throw new Error('the origin broke')
      if (mode === 'throw503') throw Object.assign(new Error('unavailable'), { statusCode: 503 })
      if (mode === 'throw404') throw Object.assign(new Error('no such thing'), { statusCode: 404 })
      if (mode === 'answer503') return reply.code(503).send({ error: 'down' })
      return { id, run }
    })
  })
})

afterAll(() => running.close())
afterEach(() => {
  clock.restore()
  mode = 'ok'
})

describe('payload kinds: MISS, then HIT with the same bytes, the origin once', () => {
  test.each([
    ['an object, through Fastify’s JSON serializer', 'object', /^application\/json/],
    ['an object, through a response schema', 'schema', /^application\/json/],
    ['a string', 'string', /^text\/plain/],
    ['a Buffer', 'buffer', /^application\/octet-stream/],
    ['a Node stream', 'stream', /^text\/plain/],
    ['a web ReadableStream', 'web', /^text\/plain/],
    ['no payload', 'empty', undefined],
  ] as const)('%s', async (_, kind, type) => {
    const miss = await running.get(`/kind/${kind}`)
    const hit = await running.get(`/kind/${kind}`)
    expect([miss.status, miss.xCache, hit.status, hit.xCache]).toEqual([200, 'MISS', 200, 'HIT'])
    expect(hit.body.equals(miss.body)).toBe(true)
    if (type !== undefined) expect(hit.headers.get('content-type')).toMatch(type)
    expect(hit.headers.get('age')).toMatch(/^\d+$/)
    expect(hit.headers.get('content-length')).toBe(String(miss.body.length))
    expect(running.count(kind)).toBe(1)
  })

  test('the schema’s serializer wrote what is stored', async () => {
    const hit = await running.get('/kind/schema')
    expect(hit.json()).toEqual({ kept: 1 })
    expect(running.count('schema')).toBe(1)
  })

  test('a whole payload carries the stored strong ETag on the miss already', async () => {
    const miss = await running.get('/kind/object?first')
    expect(miss.xCache).toBe('MISS')
    const etag = miss.headers.get('etag')
    expect(etag).toMatch(/^"/)
    expect((await running.get('/kind/object?first')).headers.get('etag')).toBe(etag)
    expect(running.count('object')).toBe(2)
  })

  test('a fetch Response is answered as is and never stored: BYPASS every time', async () => {
    for (let i = 0; i < 2; i++) {
      const reply = await running.get('/kind/response')
      expect([reply.status, reply.xCache, reply.text()]).toEqual([
        200,
        'BYPASS',
        'from a fetch Response',
      ])
      expect(reply.headers.get('cache-status')).toMatch(/detail=body-kind/)
    }
    expect(running.count('response')).toBe(2)
  })
})

describe('HEAD', () => {
  test('a cold HEAD is a MISS that fills the GET entry; a HEAD on it is a HIT with its length', async () => {
    const head = await running.get('/kind/object?head=1', { method: 'HEAD' })
    expect([head.status, head.xCache, head.body.length]).toEqual([200, 'MISS', 0])
    const get = await running.get('/kind/object?head=1')
    expect([get.xCache, (get.json() as { run: number }).run]).toEqual([
      'HIT',
      running.count('object'),
    ])
    const again = await running.get('/kind/object?head=1', { method: 'HEAD' })
    expect([again.xCache, again.body.length]).toEqual(['HIT', 0])
    expect(again.headers.get('content-length')).toBe(String(get.body.length))
    expect(again.headers.get('etag')).toBe(get.headers.get('etag'))
  })

  test('a cold HEAD on a streamed route reads the stream into the GET entry', async () => {
    const before = running.count('stream')
    const head = await running.get('/kind/stream?head=1', { method: 'HEAD' })
    expect([head.status, head.xCache, head.body.length]).toEqual([200, 'MISS', 0])
    const get = await running.get('/kind/stream?head=1')
    expect(get.xCache).toBe('HIT')
    expect(get.text()).toContain(`chunk 49 of run ${before + 1}`)
    expect(running.count('stream')).toBe(before + 1)
  })

  test('a HEAD route of its own is answered by it, never stored as the GET entry', async () => {
    const head = await running.get('/own/1', { method: 'HEAD' })
    expect([head.status, head.xCache, head.headers.get('x-own')]).toEqual([200, 'BYPASS', 'head'])
    const get = await running.get('/own/1')
    expect([get.xCache, get.json()]).toEqual(['MISS', { run: 1 }])
    expect((await running.get('/own/1')).xCache).toBe('HIT')
    // The GET entry answers HEAD from now on.
    const cached = await running.get('/own/1', { method: 'HEAD' })
    expect([cached.xCache, cached.headers.get('x-own')]).toEqual(['HIT', null])
    expect([running.count('own-head'), running.count('own-get')]).toEqual([1, 1])
  })
})

describe('conditional requests from the client', () => {
  test('If-None-Match with the stored ETag: 304 HIT without a body; the route never sees the field', async () => {
    const miss = await running.get('/kind/conditional', { headers: { 'if-none-match': '"other"' } })
    expect([miss.status, miss.xCache]).toEqual([200, 'MISS'])
    expect(miss.json()).toEqual({ run: 1, sawIfNoneMatch: null })
    const etag = miss.headers.get('etag') as string
    const notModified = await running.get('/kind/conditional', {
      headers: { 'if-none-match': etag },
    })
    expect([notModified.status, notModified.xCache, notModified.body.length]).toEqual([
      304,
      'HIT',
      0,
    ])
    expect(notModified.headers.get('etag')).toBe(etag)
    const changed = await running.get('/kind/conditional', { headers: { 'if-none-match': '"x"' } })
    expect([changed.status, changed.xCache]).toEqual([200, 'HIT'])
    expect(running.count('conditional')).toBe(1)
  })

  test('If-Modified-Since no earlier than the stored copy: 304 HIT', async () => {
    await running.get('/kind/object?ims=1')
    const later = new Date(Date.now() + 60_000).toUTCString()
    const reply = await running.get('/kind/object?ims=1', {
      headers: { 'if-modified-since': later },
    })
    expect([reply.status, reply.xCache]).toEqual([304, 'HIT'])
  })
})

describe('errors thrown in handlers (stale-if-error)', () => {
  test('a thrown error past the ttl is answered with the stale copy; so is a 503', async () => {
    const fresh = await running.get('/flaky/1')
    expect([fresh.status, fresh.xCache]).toEqual([200, 'MISS'])
    clock.advance(2_000)

    mode = 'throw'
    const thrown = await running.get('/flaky/1')
    expect([thrown.status, thrown.xCache]).toEqual([200, 'STALE'])
    expect(thrown.body.equals(fresh.body)).toBe(true)
    expect(thrown.headers.get('cache-status')).toMatch(
      /fwd=stale; ttl=-\d+; detail=stale-if-error$/,
    )

    mode = 'throw503'
    const own = await running.get('/flaky/1')
    expect([own.status, own.xCache]).toEqual([200, 'STALE'])
    expect(own.headers.get('cache-status')).toMatch(
      /fwd-status=503; ttl=-\d+; detail=stale-if-error$/,
    )

    mode = 'answer503'
    const answered = await running.get('/flaky/1')
    expect([answered.status, answered.xCache]).toEqual([200, 'STALE'])
    expect(answered.headers.get('cache-status')).toMatch(/fwd-status=503/)
    expect(answered.json()).toEqual(fresh.json())

    mode = 'ok'
    const recovered = await running.get('/flaky/1')
    expect([recovered.status, recovered.xCache]).toEqual([200, 'MISS'])
    expect(running.count('flaky')).toBe(5)
  })

  test('without a stale copy a thrown error is answered as an error: 500 BYPASS, not stored', async () => {
    const before = running.count('flaky')
    mode = 'throw'
    const failed = await running.get('/flaky/2')
    expect([failed.status, failed.xCache]).toEqual([500, 'BYPASS'])
    expect(failed.headers.get('cache-status')).toMatch(/detail=status$/)
    mode = 'ok'
    expect((await running.get('/flaky/2')).xCache).toBe('MISS')
    expect((await running.get('/flaky/2')).xCache).toBe('HIT')
    expect(running.count('flaky')).toBe(before + 2)
  })

  test('an error thrown with a 4xx is the answer, never stored, though the rule stores 404', async () => {
    const before = running.count('flaky')
    mode = 'throw404'
    for (let i = 0; i < 2; i++) {
      const reply = await running.get('/flaky/3')
      expect([reply.status, reply.xCache]).toEqual([404, 'BYPASS'])
    }
    expect(running.count('flaky')).toBe(before + 2)
  })
})
