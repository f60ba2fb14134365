import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Browser, Locator, Page } from 'playwright-core'
import { launchChromium } from '../support/browser'
import { REPO_ROOT, type ShopProcess, startShopProcess } from '../support/processes'
import { sharedRedisUrl } from '../support/redis/shared'

// The dashboard end to end in a real headless chromium: the page is loaded
// from a running Express shop process (with Redis), the token is entered,
// traffic makes the numbers move, a tag is invalidated through the form and
// the next request to that product is a MISS at the origin. The screenshot
// docs/operating.md (Dashboard) and docs/README.md show is taken here.

const TOKEN = randomBytes(16).toString('hex')
const SCREENSHOT = path.join(REPO_ROOT, 'docs', 'dashboard.png')
const PRODUCT_ROUTE = 'GET /products/:id'

let shop: ShopProcess | undefined
let browser: Browser | undefined
let page: Page
const pageErrors: string[] = []

beforeAll(async () => {
  shop = await startShopProcess('express', {
    CACHE_ADMIN_TOKEN: TOKEN,
    REDIS_URL: sharedRedisUrl(),
    CACHE_REDIS_PREFIX: `dashboard-${randomBytes(6).toString('hex')}`,
  })
  // Generous: the first run on a machine without chromium installs it.
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  page.on('pageerror', (err) => pageErrors.push(err.message))
  // Script errors and CSP violations; not the 401 and 400 the tests provoke.
  page.on('console', (msg) => {
    const expected = /^Failed to load resource: .* status of (400|401) /
    if (msg.type() === 'error' && !expected.test(msg.text())) pageErrors.push(msg.text())
  })
}, 10 * 60_000)

afterAll(async () => {
  await browser?.close()
  await shop?.stop()
})

function shopUrl(): string {
  if (shop === undefined) throw new Error('the shop did not start')
  return shop.url
}

async function get(urlPath: string): Promise<{ status: number; xCache: string | null }> {
  const res = await fetch(`${shopUrl()}${urlPath}`)
  await res.arrayBuffer()
  return { status: res.status, xCache: res.headers.get('x-cache') }
}

async function productCalls(): Promise<number> {
  const res = await fetch(`${shopUrl()}/__origin/calls`)
  const calls = (await res.json()) as { byRoute: Record<string, number> }
  return calls.byRoute[PRODUCT_ROUTE] ?? 0
}

/** Waits until `locator` shows text matching `pattern` (the page polls every 2 s). */
async function shows(locator: Locator, pattern: RegExp, timeout = 10_000): Promise<void> {
  await locator.filter({ hasText: pattern }).first().waitFor({ timeout })
}

const cell = (rule: string, field: string) =>
  page.locator(`tr[data-rule="${rule}"] td[data-field="${field}"]`)

test('the page asks for the token, then shows counters that move with traffic', async () => {
  await page.goto(`${shopUrl()}/admin/cache/`)
  const status = page.locator('#status')
  await shows(status, /Enter the admin token/)

  // A wrong token is refused, and says so.
  await page.getByLabel('Admin token').fill('not-the-token-0000000000')
  await page.getByRole('button', { name: 'Connect' }).click()
  await shows(status, /The token was refused/)

  await page.getByLabel('Admin token').fill(TOKEN)
  await page.getByRole('button', { name: 'Connect' }).click()
  await shows(status, /Connected to pid \d+/)
  await shows(cell('product', 'hits'), /^0$/)
  await shows(page.locator('#l2-name'), /^redis$/)
  await shows(page.locator('#l2-breaker'), /^closed$/)
  await shows(page.locator('#l2-bus'), /^healthy/)

  // One miss, then four hits.
  const answers = []
  for (let i = 0; i < 5; i++) answers.push((await get('/products/1')).xCache)
  expect(answers).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 'HIT'])
  await shows(cell('product', 'hits'), /^4$/)
  await shows(cell('product', 'misses'), /^1$/)
  await shows(cell('product', 'ratio'), /^80\.0%$/)
  await shows(page.locator('#l1-entries'), /^[1-9]\d*$/)
  // The chart has a line (or a dot) for the rule once a poll saw its traffic.
  await page.locator('#chart path[data-rule="product"]').waitFor({ state: 'attached' })
  await shows(page.locator('#legend'), /product/)
})

test('invalidating a tag through the form makes the next request a MISS', async () => {
  expect((await get('/products/1')).xCache).toBe('HIT')
  const before = await productCalls()

  await page.getByLabel('Tags').fill('product:1')
  await page.getByRole('button', { name: 'Invalidate' }).click()
  await shows(page.locator('#result'), /^Invalidated product:1 in [\d.]+ ms$/)

  const recent = page.getByRole('table', { name: 'Recent invalidations' })
  const row = recent.getByRole('row').filter({ hasText: 'product:1' })
  await row.first().waitFor({ timeout: 10_000 })
  const cells = await row.first().getByRole('cell').allTextContents()
  expect(cells.slice(1, 6)).toEqual(['admin', 'product:1', '', '', 'ok'])

  expect((await get('/products/1')).xCache).toBe('MISS')
  expect(await productCalls()).toBe(before + 1)
  expect((await get('/products/1')).xCache).toBe('HIT')
  expect(await productCalls()).toBe(before + 1)

  // A bad target is refused, naming the field.
  await page.getByLabel('Tags').fill('')
  await page.getByLabel('Pattern').fill('products')
  await page.getByRole('button', { name: 'Invalidate' }).click()
  await shows(page.locator('#result'), /^Refused \(pattern\): /)
  await page.getByLabel('Pattern').fill('')
  await page.getByLabel('Tags').fill('product:1')
  await page.getByRole('button', { name: 'Invalidate' }).click()
  await shows(page.locator('#result'), /^Invalidated product:1/)
})

test('a few polls of mixed traffic, then the screenshot', async () => {
  // Rounds with different mixes, so that the chart's lines differ.
  for (let round = 0; round < 4; round++) {
    const started = Date.now()
    const paths: string[] = []
    for (let i = 0; i < 40; i++) {
      paths.push(`/products/${1 + ((i * 7) % (4 + round * 6))}`)
      if (i % 4 === 0) paths.push(`/products?page=${1 + ((i + round) % 3)}`)
      if (i % 5 === 0) paths.push(`/assets/blob-${1024 * (1 + (i % (2 + round)))}.bin`)
      if (i % 8 === round) paths.push('/status/500')
    }
    for (let i = 0; i < paths.length; i += 8) {
      await Promise.all(paths.slice(i, i + 8).map((p) => get(p)))
    }
    // One batch per 2 s poll.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2100 - (Date.now() - started))))
  }
  await shows(cell('asset', 'hits'), /^[1-9]\d*$/)
  await page.locator('#chart path[data-rule="products"]').waitFor({ state: 'attached' })

  fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
  await page.screenshot({ path: SCREENSHOT, fullPage: true })
  expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000)
  expect(pageErrors).toEqual([])
})
