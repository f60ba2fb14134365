import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Io, main } from '@cachet/cli'
import { adminRouter, cacheMiddleware } from '@cachet/express'
import express from 'express'
import request from 'supertest'
import { runCli } from './run-cli'

// `cachet warm --top N` and the progress line, against an app of this test
// that tracks its most requested URLs (warm: { track }) and mounts the admin API.

const TOKEN = randomBytes(16).toString('hex')

let server: http.Server
let base: string
let calls = 0
const cache = cacheMiddleware({
  rules: [{ name: 'item', path: '/items/:id', ttl: 60 }],
  warm: { track: 20 },
})

beforeAll(async () => {
  const app = express()
  app.use(cache)
  app.use('/admin/cache', adminRouter(cache, { tokens: TOKEN }))
  app.get('/items/:id', (req, res) => {
    calls++
    res.json({ id: req.params.id })
  })
  server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => {
    server.close(resolve)
    server.closeAllConnections()
  })
  await cache.close()
})

/** An `Io` that records what the CLI writes. */
function recorder(tty: boolean): Io & { out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    stdout: { write: (t: string) => out.push(t), isTTY: tty },
    stderr: { write: (t: string) => err.push(t) },
    env: {},
    readText: async () => '',
  }
}

test('--top N: the most requested URLs, fetched again after the cache was cleared', async () => {
  for (const [id, n] of [
    [1, 4],
    [2, 3],
    [3, 2],
    [4, 1],
  ] as const)
    for (let i = 0; i < n; i++) await request(base).get(`/items/${id}`)
  expect(calls).toBe(4)
  cache.engine.clear()
  const run = await runCli([
    'warm',
    '--top',
    '2',
    '--admin',
    `${base}/admin/cache`,
    '--token',
    TOKEN,
  ])
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  expect(run.stdout).toMatch(/^warmed 2\/2 ok=2 failed=0 skipped=0 \(hits=0 misses=2\) in /)
  expect(calls).toBe(6)
  expect((await request(base).get('/items/1')).headers['x-cache']).toBe('HIT')
  expect((await request(base).get('/items/2')).headers['x-cache']).toBe('HIT')
  expect((await request(base).get('/items/3')).headers['x-cache']).toBe('MISS')
  expect(calls).toBe(7)
})

test('on a terminal the progress line is updated in place, then becomes the summary', async () => {
  const io = recorder(true)
  const urls = ['/items/11', '/items/12', '/items/13', '/items/14', '/items/15']
  const code = await main(
    [
      'warm',
      '--admin',
      `${base}/admin/cache`,
      '--token',
      TOKEN,
      '--batch',
      '2',
      ...urls.flatMap((u) => ['--url', u]),
    ],
    io,
  )
  expect(code).toBe(0)
  expect(io.err).toEqual([])
  expect(io.out.slice(0, 4)).toEqual([
    'warming 0/5 ok=0 failed=0',
    '\r\x1b[2Kwarming 2/5 ok=2 failed=0',
    '\r\x1b[2Kwarming 4/5 ok=4 failed=0',
    '\r\x1b[2Kwarming 5/5 ok=5 failed=0',
  ])
  const [clear, summary] = [io.out[4]?.slice(0, 5), io.out[4]?.slice(5)]
  expect(clear).toBe('\r\x1b[2K')
  expect(summary).toMatch(/^warmed 5\/5 ok=5 failed=0 skipped=0 \(hits=0 misses=5\) in .+\n$/)
  expect(io.out).toHaveLength(5)
})

test('not on a terminal: one final line', async () => {
  const io = recorder(false)
  const code = await main(
    ['warm', '--admin', `${base}/admin/cache`, '--token', TOKEN, '--url', '/items/11'],
    io,
  )
  expect(code).toBe(0)
  expect(io.out).toHaveLength(1)
  expect(io.out[0]).toMatch(/^warmed 1\/1 ok=1 failed=0 skipped=0 \(hits=1 misses=0\) in /)
})

test('--top against an app that tracks nothing yet: nothing to warm, exit 0', async () => {
  const fresh = cacheMiddleware({ rules: [{ path: '/x/:id', ttl: 60 }] })
  const app = express()
  app.use(fresh)
  app.use('/admin/cache', adminRouter(fresh, { tokens: TOKEN }))
  const s = http.createServer(app)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  try {
    const io = recorder(false)
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/admin/cache`
    expect(await main(['warm', '--top', '5', '--admin', url, '--token', TOKEN], io)).toBe(0)
    expect(io.out).toEqual([
      'nothing to warm: the app has no most-requested URLs yet (is warm.track set?)\n',
    ])
  } finally {
    await new Promise((resolve) => s.close(resolve))
    await fresh.close()
  }
})
