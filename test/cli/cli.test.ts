import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { CacheRule } from '@cachet/core'
import { redisTier } from '@cachet/core/redis'
import { cacheMiddleware } from '@cachet/express'
import express from 'express'
import { REPO_ROOT, type ShopProcess, startShopProcess } from '../support/processes'
import { sharedRedisUrl } from '../support/redis/shared'
import { jsonBody, type OriginCalls, send } from '../support/shops'
import { closedPort, runCli } from './run-cli'

// The `cachet` binary against a real Redis and three running shop processes
// (Express, Koa and Fastify) that form one cache cluster: invalidations through Redis
// directly and through the admin API, stats, warm-up, and its errors. Most tests
// drive the Express and Koa processes (a, b); the Fastify one (c) acknowledges
// every invalidation, and has tests of its own.

const TOKEN = randomBytes(16).toString('hex')
const PREFIX = `cli-${randomBytes(6).toString('hex')}`
const LEASE = '1s'

let a: ShopProcess
let b: ShopProcess
let c: ShopProcess
let redis: string[]

beforeAll(async () => {
  const env = {
    REDIS_URL: sharedRedisUrl(),
    CACHE_REDIS_PREFIX: PREFIX,
    CACHE_REDIS_LEASE: LEASE,
    CACHE_ADMIN_TOKEN: TOKEN,
  }
  ;[a, b, c] = await Promise.all([
    startShopProcess('express', env),
    startShopProcess('koa', env),
    startShopProcess('fastify', env),
  ])
  redis = ['--redis', sharedRedisUrl(), '--prefix', PREFIX, '--lease', LEASE]
}, 30_000)

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), c?.stop()])
})

async function xCache(shop: ShopProcess, p: string, headers?: Record<string, string>) {
  return (await send(shop.url, { path: p, headers })).headers['x-cache']
}
async function calls(shop: ShopProcess): Promise<OriginCalls> {
  return jsonBody(await send(shop.url, { path: '/__origin/calls' })) as OriginCalls
}
async function reset(...shops: ShopProcess[]): Promise<void> {
  for (const shop of shops) await send(shop.url, { method: 'POST', path: '/__origin/reset' })
}
/** Both processes (or the given ones) hold `p` in memory. */
async function warmBoth(p: string, shops: ShopProcess[] = [a, b]): Promise<void> {
  for (const shop of shops) await xCache(shop, p)
  for (const shop of shops) expect(await xCache(shop, p)).toBe('HIT')
}
/** Origin calls of each process, Express, Koa and Fastify. */
async function totals(): Promise<number[]> {
  return [(await calls(a)).total, (await calls(b)).total, (await calls(c)).total]
}
const admin = () => `${a.url}/admin/cache`
const oneLine = (text: string) => text.trim().split('\n').length === 1

describe('cachet invalidate --redis', () => {
  test('--tag: durable, acknowledged by every process; each then answers MISS with one more origin call', async () => {
    await warmBoth('/products/1')
    await reset(a, b)
    const run = await runCli(['invalidate', '--tag', 'product:1', ...redis])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toMatch(
      /^invalidated tag product:1: durable in Redis \(bus seq \d+\), applied by 3 live processes, in \d/,
    )
    expect(oneLine(run.stdout)).toBe(true)
    // The first process asked refills; the other then finds that new copy in Redis.
    expect(await xCache(b, '/products/1')).toBe('MISS')
    expect(await xCache(a, '/products/1')).toBe('HIT')
    expect([(await calls(a)).total, (await calls(b)).total]).toEqual([0, 1])

    const again = await runCli(['invalidate', '--tag', 'product:1', ...redis])
    expect(again.code).toBe(0)
    expect(await xCache(a, '/products/1')).toBe('MISS')
    expect(await xCache(b, '/products/1')).toBe('HIT')
    expect([(await calls(a)).total, (await calls(b)).total]).toEqual([1, 1])
  })

  test('--tag with the Fastify process in the cluster: its next read is a MISS with one more origin call, which the others then share', async () => {
    await warmBoth('/products/3', [a, b, c])
    await reset(a, b, c)
    const run = await runCli(['invalidate', '--tag', 'product:3', ...redis])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toMatch(/^invalidated tag product:3: .*applied by 3 live processes/)
    expect(await xCache(c, '/products/3')).toBe('MISS')
    expect(await xCache(c, '/products/3')).toBe('HIT')
    // The Fastify process's refill is in Redis: no origin call on Express or Koa.
    expect(await xCache(a, '/products/3')).toBe('HIT')
    expect(await xCache(b, '/products/3')).toBe('HIT')
    expect(await totals()).toEqual([0, 0, 1])
  })

  test('--user: that user’s per-user entries; another user’s stay', async () => {
    const u1 = { authorization: 'Bearer cli-u1' }
    const u2 = { authorization: 'Bearer cli-u2' }
    await xCache(a, '/me/cart', u1)
    await xCache(a, '/me/cart', u2)
    expect(await xCache(a, '/me/cart', u1)).toBe('HIT')
    await reset(a)
    const run = await runCli(['invalidate', '--user', 'cli-u1', ...redis])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^invalidated user cli-u1: /)
    expect(await xCache(a, '/me/cart', u1)).toBe('MISS')
    expect(await xCache(a, '/me/cart', u2)).toBe('HIT')
    expect((await calls(a)).byRoute['GET /me/cart']).toBe(1)
  })

  test('--pattern: through the pattern log, in both processes', async () => {
    await warmBoth('/products/5')
    await warmBoth('/products?page=2')
    await reset(a, b)
    const run = await runCli(['invalidate', '--pattern', '/products/*', ...redis])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^invalidated pattern \/products\/\*: /)
    expect(await xCache(a, '/products/5')).toBe('MISS')
    expect(await xCache(b, '/products?page=2')).toBe('HIT') // not under /products/*
    expect((await calls(a)).total).toBe(1)
    expect((await calls(b)).total).toBe(0)
  })

  test('a process that stopped answering (SIGSTOP) is waited for until its lease ran out; resumed, it does not serve the old copy', async () => {
    await warmBoth('/products/6')
    await reset(a, b)
    b.pause()
    let run: Awaited<ReturnType<typeof runCli>>
    try {
      run = await runCli(['invalidate', '--tag', 'product:6', ...redis])
    } finally {
      b.resume()
    }
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/applied by 3 live processes/)
    // The paused process could not acknowledge: the CLI waited out its lease (1 s).
    expect(run.ms).toBeGreaterThan(300)
    expect(await xCache(b, '/products/6')).toBe('MISS')
    expect((await calls(b)).total).toBe(1)
  })

  test('Redis unreachable: exit 1 within a few seconds, one line on stderr', async () => {
    const port = await closedPort()
    const run = await runCli(['invalidate', '--tag', 'x', '--redis', `redis://127.0.0.1:${port}`])
    expect(run.code).toBe(1)
    expect(run.ms).toBeLessThan(4000)
    expect(run.stdout).toBe('')
    expect(run.stderr).toBe(
      `cachet invalidate: cannot connect to Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    )
  })
})

describe('usage errors: exit 2 with one clear line', () => {
  const url = () => sharedRedisUrl()
  test.each<[string, () => string[], RegExp]>([
    [
      'a bad pattern',
      () => ['invalidate', '--pattern', 'products', '--redis', url()],
      /--pattern: expected a path pattern starting with "\/", got "products"/,
    ],
    [
      'a reserved tag',
      () => ['invalidate', '--tag', '#user:x', '--redis', url()],
      /--tag: tags starting with "#" are reserved/,
    ],
    [
      'an empty user',
      () => ['invalidate', '--user=', '--redis', url()],
      /--user: expected a non-empty string/,
    ],
    [
      'an empty tenant',
      () => ['invalidate', '--tenant=', '--redis', url()],
      /--tenant: expected a non-empty string/,
    ],
    ['an unknown flag', () => ['invalidate', '--tg', 'x', '--redis', url()], /unknown option --tg/],
    [
      'a missing value',
      () => ['invalidate', '--redis', url(), '--tag'],
      /option --tag needs a value/,
    ],
    ['a positional argument', () => ['invalidate', 'product:1'], /unexpected argument "product:1"/],
    ['nothing to invalidate', () => ['invalidate', '--redis', url()], /nothing to invalidate/],
    ['no target', () => ['invalidate', '--tag', 'x'], /give --redis URL or --admin URL/],
    [
      'two targets',
      () => ['invalidate', '--tag', 'x', '--redis', url(), '--admin', 'http://127.0.0.1:1'],
      /either --redis or --admin/,
    ],
    [
      'a bad Redis URL',
      () => ['invalidate', '--tag', 'x', '--redis', 'localhost'],
      /--redis: expected redis:\/\/host:port/,
    ],
    [
      'a pattern twice',
      () => ['invalidate', '--pattern', '/a', '--pattern', '/b', '--redis', url()],
      /give --pattern once/,
    ],
    [
      'admin without a token',
      () => ['stats', '--admin', 'http://127.0.0.1:1/admin/cache'],
      /--admin needs --token T or --token-env VAR/,
    ],
    [
      'an unset token variable',
      () => ['stats', '--admin', 'http://127.0.0.1:1', '--token-env', 'CACHET_NO_SUCH_VAR'],
      /the variable CACHET_NO_SUCH_VAR is not set/,
    ],
    [
      'warm through Redis',
      () => ['warm', '--url', '/products/1', '--redis', url()],
      /needs --admin URL/,
    ],
    [
      'warm with two sources',
      () => [
        'warm',
        '--url',
        '/a',
        '--top',
        '3',
        '--admin',
        'http://127.0.0.1:1',
        '--token',
        TOKEN,
      ],
      /one of --url U \.\.\., --file F or --top N/,
    ],
    [
      'a bad duration',
      () => ['stats', '--redis', url(), '--timeout', 'soon'],
      /--timeout: expected a duration/,
    ],
    [
      'a namespace with a colon (the app refuses it too)',
      () => ['stats', '--redis', url(), '--namespace', 'a:b'],
      /--namespace: expected 1 to 64 letters, digits, "_", "-" or "\.", got "a:b"/,
    ],
    [
      'a namespace and another prefix',
      () => ['invalidate', '--tag', 'x', '--redis', url(), '--namespace', 'a', '--prefix', 'b'],
      /--namespace a and --prefix b disagree/,
    ],
    [
      'a namespace for an admin API',
      () => ['stats', '--admin', 'http://127.0.0.1:1', '--token', TOKEN, '--namespace', 'a'],
      /--namespace goes with --redis, not --admin/,
    ],
  ])('%s', async (_, args, message) => {
    const run = await runCli(args())
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toMatch(message)
    expect(run.stderr).toMatch(/\(see cachet \w+ --help\)\n$/)
    expect(oneLine(run.stderr)).toBe(true)
  })

  test('an unknown command, and no command at all', async () => {
    const unknown = await runCli(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toBe(
      'cachet: unknown command "frobnicate" (expected invalidate, stats or warm; see cachet --help)\n',
    )
    const none = await runCli([])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/^usage: cachet <command>/)
  })

  test('the package bin (bin/cachet.js, what npx runs) runs the built CLI', async () => {
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [
        path.join(REPO_ROOT, 'packages/cli/bin/cachet.js'),
        '--version',
      ])
      let out = ''
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
      })
      child.once('close', (code) => resolve({ code, out }))
    })
    expect(run).toEqual({ code: 0, out: 'cachet 0.1.0\n' })
  })

  test('--help for each command: exit 0, usage on stdout', async () => {
    for (const command of ['invalidate', 'stats', 'warm']) {
      const run = await runCli([command, '--help'])
      expect(run).toMatchObject({ code: 0, stderr: '' })
      expect(run.stdout).toMatch(new RegExp(`^usage: cachet ${command} `))
      expect(run.stdout).toMatch(/Exit: 0 /)
    }
    const top = await runCli(['--help'])
    expect(top.code).toBe(0)
    expect(top.stdout).toMatch(/Exit codes: 0 done, 1 failed .*2 usage error/s)
  })
})

describe('cachet stats --redis', () => {
  test('three live processes (Express, Koa, Fastify), their leases, the counters', async () => {
    const run = await runCli(['stats', ...redis])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toMatch(/^processes\s+3 live/m)
    expect(run.stdout).toMatch(/renewed .* ago\s+lease .* left\s+applied seq \d+/)
    expect(run.stdout).toMatch(/^memory\s+.* used/m)
    expect(run.stdout).toMatch(/^shards\s+1 \(recorded in Redis\)$/m)
    const json = await runCli(['stats', ...redis, '--json'])
    expect(json.code).toBe(0)
    const stats = JSON.parse(json.stdout)
    expect(stats.processes).toHaveLength(3)
    expect(stats).toMatchObject({ shards: 1, shardsSource: 'redis' })
    expect(stats.epoch).toMatch(/^[0-9a-f]{16}$/)
    expect(stats.busSeq).toBeGreaterThan(0)
    expect(stats.entries.complete).toBe(true)
    expect(stats.entries.count).toBeGreaterThan(0)
    expect(stats.memory.usedBytes).toBeGreaterThan(0)
    for (const p of stats.processes) {
      expect(p.leaseLeftMs).toBeGreaterThan(0)
      expect(p.appliedSeq).toBe(stats.busSeq)
    }
  })

  test('an unused prefix: no epoch, no process', async () => {
    const run = await runCli([
      'stats',
      '--redis',
      sharedRedisUrl(),
      '--prefix',
      `none-${PREFIX}`,
      '--json',
    ])
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({
      epoch: null,
      processes: [],
      busSeq: 0,
      shards: 1,
      shardsSource: 'default',
    })
  })
})

describe('through the admin API (CACHE_ADMIN_TOKEN)', () => {
  test('stats: the right token exits 0; a wrong one exits 1 with "401"', async () => {
    const ok = await runCli(['stats', '--admin', admin(), '--token-env', 'CACHET_TOKEN'], {
      env: { CACHET_TOKEN: TOKEN },
    })
    expect(ok).toMatchObject({ code: 0, stderr: '' })
    expect(ok.stdout).toMatch(/^rule\s+hits mem\/shared\s+misses/m)
    expect(ok.stdout).toMatch(/^product\s+\d+\/\d+/m)
    const json = await runCli(['stats', '--admin', admin(), '--token', TOKEN, '--json'])
    expect(JSON.parse(json.stdout).stats.rules.length).toBeGreaterThan(0)
    const wrong = await runCli(['stats', '--admin', admin(), '--token', `${TOKEN}x`])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/^cachet stats: 401 unauthorized/)
    expect(oneLine(wrong.stderr)).toBe(true)
  })

  test('invalidate: every process, then a MISS with one more origin call', async () => {
    await warmBoth('/products/2')
    await reset(a, b)
    const run = await runCli([
      'invalidate',
      '--tag',
      'product:2',
      '--admin',
      admin(),
      '--token',
      TOKEN,
    ])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toMatch(/^invalidated tag product:2 on every process \(as admin\) in /)
    expect(await xCache(b, '/products/2')).toBe('MISS')
    expect((await calls(b)).total).toBe(1)
    const wrong = await runCli([
      'invalidate',
      '--tag',
      'x',
      '--admin',
      admin(),
      '--token',
      'wrong-token-wrong-token',
    ])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/401/)
  })

  test('invalidate through the Fastify process’s admin API: every process, the Fastify one then a MISS with one more origin call', async () => {
    await warmBoth('/products/4', [a, b, c])
    await reset(a, b, c)
    const run = await runCli([
      'invalidate',
      '--tag',
      'product:4',
      '--admin',
      `${c.url}/admin/cache`,
      '--token',
      TOKEN,
    ])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toMatch(/^invalidated tag product:4 on every process \(as admin\) in /)
    expect(await xCache(c, '/products/4')).toBe('MISS')
    // Fastify's refill is in Redis: no origin call on Express or Koa.
    expect(await xCache(a, '/products/4')).toBe('HIT')
    expect(await xCache(b, '/products/4')).toBe('HIT')
    expect(await totals()).toEqual([0, 0, 1])
  })

  test('an admin URL nobody answers: exit 1', async () => {
    const port = await closedPort()
    const run = await runCli([
      'stats',
      '--admin',
      `http://127.0.0.1:${port}/admin/cache`,
      '--token',
      TOKEN,
    ])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/cannot reach the admin API .*ECONNREFUSED/)
  })
})

describe('cachet warm', () => {
  test('--url: the app fetches them; one final line; the following requests are HITs', async () => {
    await reset(a, b)
    const run = await runCli([
      'warm',
      '--admin',
      admin(),
      '--token',
      TOKEN,
      '--url',
      '/products/31',
      '--url',
      '/products/32?lang=fr',
      '--url',
      '/me/cart',
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^warmed 3\/3 ok=2 failed=0 skipped=1 \(hits=0 misses=2\) in .+\n$/)
    expect(run.stderr).toBe('  /me/cart: rule cart is per-user\n')
    expect((await calls(a)).byRoute['GET /products/:id']).toBe(2)
    expect(await xCache(a, '/products/31')).toBe('HIT')
    expect(await xCache(b, '/products/32?lang=fr')).toBe('HIT')
    expect((await calls(a)).total).toBe(2)
    expect((await calls(b)).total).toBe(0)
  })

  test('--file (and - for stdin), in batches; a URL that fails makes it exit 1', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cachet-cli-'))
    const file = path.join(dir, 'urls.txt')
    fs.writeFileSync(file, '# hot products\n/products/41\n\n/products/42\n/status/503\n')
    try {
      const run = await runCli([
        'warm',
        '--admin',
        admin(),
        '--token',
        TOKEN,
        '--file',
        file,
        '--batch',
        '1',
      ])
      expect(run.code).toBe(1)
      expect(run.stdout).toMatch(/^warmed 3\/3 ok=2 failed=1 skipped=0 /)
      expect(run.stderr).toBe('  /status/503: status 503\n')
      const stdin = await runCli(['warm', '--admin', admin(), '--token', TOKEN, '--file', '-'], {
        stdin: '/products/41\n/products/43\n',
      })
      expect(stdin.code).toBe(0)
      expect(stdin.stdout).toMatch(/^warmed 2\/2 ok=2 failed=0 skipped=0 \(hits=1 misses=1\)/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

/**
 * An Express app with `rules` on a prefix of the shared Redis, listening on
 * 127.0.0.1 for the tests of one describe block, and closed after them.
 */
function appOnSharedRedis(
  label: string,
  rules: CacheRule[],
  route: (req: express.Request, res: express.Response) => void,
): { prefix: string; url: () => string } {
  const prefix = `cli-${label}-${randomBytes(4).toString('hex')}`
  let server: http.Server | undefined
  let cache: ReturnType<typeof cacheMiddleware> | undefined
  let url = ''
  beforeAll(async () => {
    const app = express()
    cache = cacheMiddleware({
      rules,
      store: { l2: redisTier({ client: sharedRedisUrl(), prefix }) },
    })
    app.use(cache)
    app.get(rules[0]?.path as string, route)
    server = http.createServer(app)
    const listening = server
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`
    await cache.ready
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    await cache?.close()
  })
  return { prefix, url: () => url }
}

describe('--tenant, against an app whose rules have a tenant', () => {
  const runs = new Map<string, number>()
  const { prefix, url: appUrl } = appOnSharedRedis(
    'tenant',
    [
      {
        path: '/catalog/:id',
        ttl: '5m',
        tenant: (req) => req.headers['x-tenant'] as string | undefined,
        key: { headers: ['x-tenant'] },
      },
    ],
    (req, res) => {
      const k = `${req.headers['x-tenant']} ${req.path}`
      runs.set(k, (runs.get(k) ?? 0) + 1)
      res.json({ tenant: req.headers['x-tenant'], run: runs.get(k) })
    },
  )

  test("drops that tenant's entries in the app; another tenant's stay", async () => {
    const read = async (t: string) =>
      (await send(appUrl(), { path: '/catalog/1', headers: { 'x-tenant': t } })).headers['x-cache']
    for (const t of ['acme', 'globex']) {
      expect(await read(t)).toBe('MISS')
      expect(await read(t)).toBe('HIT')
    }
    const run = await runCli([
      'invalidate',
      '--tenant',
      'acme',
      '--redis',
      sharedRedisUrl(),
      '--prefix',
      prefix,
    ])
    expect([run.code, run.stderr]).toEqual([0, ''])
    expect(run.stdout).toMatch(/^invalidated tenant acme: /)
    expect(await read('acme')).toBe('MISS')
    expect(await read('globex')).toBe('HIT')
    expect(Object.fromEntries(runs)).toEqual({ 'acme /catalog/1': 2, 'globex /catalog/1': 1 })
  })
})

describe('--expire, against an app on the shared Redis', () => {
  let runs = 0
  const { prefix, url: appUrl } = appOnSharedRedis(
    'expire',
    [{ path: '/item/:id', ttl: '5m', staleWhileRevalidate: '1m', tags: ['item:{params.id}'] }],
    (_req, res) => {
      runs++
      res.json({ run: runs })
    },
  )

  test('marks the entries stale in the app: served while one request refreshes them', async () => {
    const read = async () => (await send(appUrl(), { path: '/item/1' })).headers['x-cache']
    expect(await read()).toBe('MISS')
    expect(await read()).toBe('HIT')
    const run = await runCli([
      'invalidate',
      '--tag',
      'item:1',
      '--expire',
      '--redis',
      sharedRedisUrl(),
      '--prefix',
      prefix,
    ])
    expect([run.code, run.stderr]).toEqual([0, ''])
    expect(run.stdout).toMatch(/^expired tag item:1: durable in Redis/)
    expect(await read()).toBe('STALE')
    // The one background refresh lands: a fresh copy, one more run.
    for (let i = 0; i < 100 && runs < 2; i++) await new Promise((r) => setTimeout(r, 20))
    expect(runs).toBe(2)
  })

  test('--expire with --pattern is a usage error', async () => {
    const run = await runCli([
      'invalidate',
      '--pattern',
      '/item/*',
      '--expire',
      '--redis',
      sharedRedisUrl(),
    ])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(
      /--expire: 'expire' takes tags, user or tenant; a pattern is always deleted/,
    )
  })
})
