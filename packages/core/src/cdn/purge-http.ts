import { createHash, createHmac } from 'node:crypto'
import { CachetConfigError, describeValue } from '../errors'
import { unknownOption } from '../options/unknown-option'
import { MAX_TIMER_MS } from '../tiers/tier-options'
import type { PurgeBatch, PurgeResult, Purger } from './purger'

/**
 * What the purgers (purgers.ts) share: their options' checks, one POST and
 * how its answer becomes a `PurgeResult`, `Retry-After`, the CDN's words from
 * an error body, credentials kept out of every message, hashes and HMACs.
 */

// ---------------------------------------------------------------- options

/** Visible ASCII: what a credential may hold, as it goes into a header or an HMAC. */
const VISIBLE = /^[\x21-\x7e]+$/
/** A host name with an optional port, without scheme or path. */
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/

/**
 * A factory's options, checked as they are read, with one message shape:
 * `fastlyPurger(): option "serviceId": expected a non-empty string, got undefined`.
 */
export class PurgerOptions {
  readonly #factory: string
  readonly #options: Record<string, unknown>

  constructor(factory: string, options: unknown, known: readonly string[]) {
    this.#factory = factory
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        `${factory}(): expected an options object { ${known.join(', ')} }, got ${describeValue(options)}`,
      )
    }
    this.#options = options as Record<string, unknown>
    for (const name of Object.keys(this.#options)) {
      if (!known.includes(name)) {
        throw new CachetConfigError(
          'CACHET_INVALID_OPTION',
          `${factory}(): ${unknownOption(name, known)}`,
        )
      }
    }
  }

  fail(option: string, problem: string): never {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `${this.#factory}(): option "${option}": ${problem}`,
    )
  }

  /** An identifier (service, zone, site...): a non-empty string, shown as given in messages. */
  id(option: string): string {
    const value = this.#options[option]
    if (typeof value !== 'string' || value.trim() === '') {
      this.fail(option, `expected a non-empty string, got ${describeValue(value)}`)
    }
    if (/[\s\p{Cc}]/u.test(value)) {
      this.fail(option, `expected no spaces or control characters, got ${describeValue(value)}`)
    }
    return value
  }

  optionalId(option: string): string | undefined {
    return this.#options[option] === undefined ? undefined : this.id(option)
  }

  /** A token, key or secret: visible ASCII. Never echoed, as the message may be logged. */
  secret(option: string): string {
    const value = this.#options[option]
    if (typeof value !== 'string' || !VISIBLE.test(value)) {
      const given =
        typeof value === 'string' ? `a string of ${value.length} characters` : describeValue(value)
      this.fail(option, `expected a non-empty string of visible ASCII characters, got ${given}`)
    }
    return value
  }

  optionalSecret(option: string): string | undefined {
    return this.#options[option] === undefined ? undefined : this.secret(option)
  }

  /** `true` or `false`; absent: `false`. */
  flag(option: string): boolean {
    const value = this.#options[option] ?? false
    if (typeof value !== 'boolean') {
      this.fail(option, `expected true or false, got ${describeValue(this.#options[option])}`)
    }
    return value
  }

  oneOf<T extends string>(option: string, values: readonly T[], fallback: T): T {
    const value = this.#options[option] ?? fallback
    if (!values.includes(value as T)) {
      this.fail(
        option,
        `expected ${values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describeValue(this.#options[option])}`,
      )
    }
    return value as T
  }

  /** A host name such as `www.example.com`, without scheme or path. */
  host(option: string, example: string): string {
    const value = this.#options[option]
    if (typeof value !== 'string' || !HOST.test(value)) {
      this.fail(
        option,
        `expected a host name like "${example}" (no scheme, no path), got ${describeValue(value)}`,
      )
    }
    return value.toLowerCase()
  }

  optionalHost(option: string, example: string): string | undefined {
    return this.#options[option] === undefined ? undefined : this.host(option, example)
  }

  /**
   * `endpoint`: the API's base URL (a proxy, a test server), http or https,
   * without query or fragment; returned without its trailing slash.
   */
  endpoint(fallback: string): string {
    const value = this.#options.endpoint ?? fallback
    let url: URL | undefined
    try {
      url = typeof value === 'string' ? new URL(value) : undefined
    } catch {
      url = undefined
    }
    if (
      url === undefined ||
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.search !== '' ||
      url.hash !== '' ||
      url.username !== '' ||
      url.password !== ''
    ) {
      this.fail(
        'endpoint',
        `expected an http(s) URL without query, fragment or credentials, like "${fallback}", got ${describeValue(this.#options.endpoint)}`,
      )
    }
    return url.href.replace(/\/+$/, '')
  }
}

// ---------------------------------------------------------------- the call

/** The longest error body read: enough for any CDN's message, bounded against a runaway answer. */
const MAX_ANSWER_BYTES = 64 * 1024
/** The longest CDN text kept in an error. */
const MAX_WORDS = 300

/** What the CDN answered. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  /** The body (its first 64 KiB), as text. */
  readonly text: string
}

/** How one CDN's API reads: what is a success, how it says to wait, which 4xx is worth a retry. */
export interface Dialect {
  /** Credentials: taken out of every error text, whatever the CDN echoed. */
  readonly secrets: readonly (string | undefined)[]
  /** The documented success (default: any 2xx). Another 2xx is an unexpected answer, retried. */
  readonly accepted?: (answer: Answer) => boolean
  /** The wait a 429 asks for, in ms (default: `Retry-After`). */
  readonly retryAfterMs?: (answer: Answer, now: number) => number | undefined
  /** Whether a 4xx other than 429 may succeed later (default: never). */
  readonly retryable?: (answer: Answer) => boolean
}

export interface ApiCall {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** POSTs `call` once; never rejects. */
export async function post(
  dialect: Dialect,
  call: ApiCall,
  signal: AbortSignal,
): Promise<PurgeResult> {
  let response: Response
  try {
    response = await fetch(call.url, {
      method: 'POST',
      headers: call.headers,
      body: call.body,
      signal,
      // A redirect is a wrong endpoint; following it would also hand the
      // credential headers (Fastly-Key, AccessKey...) to another host.
      redirect: 'manual',
    })
  } catch (err) {
    return { ok: false, retry: true, error: redact(transportError(err, signal), dialect.secrets) }
  }
  let text: string
  try {
    text = await readText(response)
  } catch (err) {
    return {
      ok: false,
      status: response.status,
      retry: true,
      error: redact(
        `HTTP ${response.status}, then ${transportError(err, signal)} reading the answer`,
        dialect.secrets,
      ),
    }
  }
  return judge(dialect, { status: response.status, headers: response.headers, text })
}

/** An answer as a result: 2xx (the documented one) ok; 429 and 5xx retried; other 4xx final. */
export function judge(dialect: Dialect, answer: Answer, now = Date.now()): PurgeResult {
  const { status } = answer
  const words = cdnWords(answer.text)
  const error = redact(`HTTP ${status}${words === '' ? '' : `: ${words}`}`, dialect.secrets)
  if (status >= 200 && status < 300) {
    if (dialect.accepted?.(answer) ?? true) return { ok: true, status }
    // A proxy's page, a changed API: the purge may not have happened. Purges
    // are idempotent, so trying again costs a call at most.
    return { ok: false, status, retry: true, error: `unexpected answer: ${error}` }
  }
  if (status >= 300 && status < 400) {
    const location = answer.headers.get('location')
    return {
      ok: false,
      status,
      retry: false,
      error: redact(
        `HTTP ${status}: a redirect${location ? ` to ${location}` : ''} (check the endpoint)`,
        dialect.secrets,
      ),
    }
  }
  const wait = (ms: number | undefined) => (ms === undefined ? {} : { retryAfterMs: ms })
  if (status === 429) {
    const ms = dialect.retryAfterMs
      ? dialect.retryAfterMs(answer, now)
      : retryAfterMs(answer.headers.get('retry-after'), now)
    return { ok: false, status, retry: true, error, ...wait(ms) }
  }
  if (status >= 400 && status < 500 && !(dialect.retryable?.(answer) ?? false)) {
    return { ok: false, status, retry: false, error }
  }
  // 5xx, a retryable 4xx (CloudFront's throttling is a 400), anything odd.
  return {
    ok: false,
    status,
    retry: true,
    error,
    ...wait(retryAfterMs(answer.headers.get('retry-after'), now)),
  }
}

/** Runs `calls` one after the other, stopping at the first failure: for a batch one call cannot carry. */
export async function inTurn(calls: readonly (() => Promise<PurgeResult>)[]): Promise<PurgeResult> {
  let last: PurgeResult = { ok: true, status: 0 }
  for (const call of calls) {
    last = await call()
    if (!last.ok) return last
  }
  return last
}

/**
 * A `Purger` around `send`, which checks the batch against the limits first
 * (a batch over them is the queue's bug: refused, not sent) and turns any
 * throw into a failed result, so that `send` never rejects. An empty batch
 * sends nothing and succeeds with status 0.
 */
export function purger(
  meta: Pick<Purger, 'name' | 'maxTags' | 'maxPaths' | 'soft'>,
  secrets: readonly (string | undefined)[],
  send: (batch: PurgeBatch, signal: AbortSignal) => Promise<PurgeResult>,
): Purger {
  return {
    ...meta,
    async send(batch, signal) {
      try {
        const { tags, paths } = batch
        if (tags.length > meta.maxTags || paths.length > meta.maxPaths) {
          const what = meta.maxPaths === 0 && paths.length > 0 ? ' (it cannot purge by path)' : ''
          return {
            ok: false,
            retry: false,
            error: `a batch of ${tags.length} tags and ${paths.length} paths is over ${meta.name}'s limits of ${meta.maxTags} tags and ${meta.maxPaths} paths a call${what}`,
          }
        }
        if (tags.length === 0 && paths.length === 0) return { ok: true, status: 0 }
        return await send(batch, signal)
      } catch (err) {
        return { ok: false, retry: true, error: redact(String(err), secrets) }
      }
    },
  }
}

async function readText(response: Response): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    size += value.byteLength
    if (size >= MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => {})
      break
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8')
}

/** A network error or an abort, in a line: `network error: connect ECONNREFUSED 127.0.0.1:9`. */
function transportError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason = signal.reason as { message?: unknown } | undefined
    return `aborted${typeof reason?.message === 'string' ? `: ${reason.message}` : ''}`
  }
  const e = err as { message?: unknown; cause?: { message?: unknown; code?: unknown } }
  const cause = e?.cause?.message ?? e?.cause?.code
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return `network error: ${typeof cause === 'string' && cause !== '' ? cause : message}`
}

// ---------------------------------------------------------------- answers

/** `Retry-After` (delay seconds or an HTTP date) in ms; `undefined` when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined
  const v = value.trim()
  if (/^\d+(?:\.\d+)?$/.test(v)) return capWait(Number(v) * 1000)
  // An HTTP date starts with the day's name (IMF-fixdate, RFC 850, asctime);
  // Date.parse alone would take "12 5" for a date.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : capWait(at - now)
}

/** A rate-limit reset as UTC epoch seconds (`Fastly-RateLimit-Reset`, `X-RateLimit-Reset`), as a wait in ms. */
export function resetAtMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || !/^\d+(?:\.\d+)?$/.test(value.trim())) return undefined
  return capWait(Number(value) * 1000 - now)
}

/** Never negative, and within what a Node timer can wait. */
function capWait(ms: number): number {
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_TIMER_MS)
}

/** The body as JSON, or `undefined`. */
export function json(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An XML error's `<Code>` (CloudFront's `Throttling`...). */
export function xmlCode(text: string): string | undefined {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1]
  return code === undefined ? undefined : xmlUnescape(code.trim())
}

/**
 * What the CDN said, from the shapes they use: `{errors: [{message}]}`
 * (Cloudflare), `{msg, detail}` (Fastly), `{title, detail}` (Akamai),
 * `{error: {message}}` (Vercel), `{message}` (Netlify), `{Message}` (Bunny),
 * `<Code>`/`<Message>` (CloudFront), an HTML page's title, or the text itself.
 */
export function cdnWords(text: string): string {
  const t = text.trim()
  if (t === '') return ''
  if (t.startsWith('{') || t.startsWith('[')) {
    const found = wordsOf(json(t))
    if (found) return clip(found)
  }
  if (t.startsWith('<')) {
    const code = xmlCode(t)
    const message = /<Message>([^<]*)<\/Message>/.exec(t)?.[1]
    if (code !== undefined || message !== undefined) {
      return clip([code, message && xmlUnescape(message.trim())].filter(Boolean).join(': '))
    }
    const title = /<title>([^<]*)<\/title>/i.exec(t)?.[1]
    if (title !== undefined) return clip(title.trim())
  }
  return clip(t.replace(/\s+/g, ' '))
}

function wordsOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (!isObject(value)) return undefined
  if (Array.isArray(value.errors)) {
    const parts = value.errors.map(wordsOf).filter((w): w is string => !!w)
    if (parts.length > 0) return parts.join('; ')
  }
  if (isObject(value.error)) return wordsOf(value.error)
  const head = [
    value.message,
    value.Message,
    value.msg,
    value.title,
    value.error,
    value.ErrorKey,
  ].find((v): v is string => typeof v === 'string' && v !== '')
  const detail =
    typeof value.detail === 'string' && value.detail !== head ? value.detail : undefined
  if (head !== undefined && detail !== undefined) return `${head}: ${detail}`
  return head ?? detail
}

function clip(text: string): string {
  return text.length <= MAX_WORDS ? text : `${text.slice(0, MAX_WORDS)}…`
}

/** `text` without any of `secrets` (nor their URL-encoded form): a CDN may echo what it was sent. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  const all = new Set<string>()
  for (const s of secrets) {
    if (!s) continue
    all.add(s)
    all.add(encodeURIComponent(s))
  }
  // Longest first, so that a secret containing another is taken out whole.
  for (const s of [...all].sort((a, b) => b.length - a.length))
    text = text.split(s).join('[redacted]')
  return text
}

// ---------------------------------------------------------------- encoding

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
}

export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] as string)
}

function xmlUnescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => {
    const map: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
    return map[name] as string
  })
}

export function sha256(data: string): Buffer {
  return createHash('sha256').update(data, 'utf8').digest()
}

export function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

/**
 * The literal start of a path pattern (path-to-regexp 8: `:name`, `*name`,
 * `{...}`, `\` escapes), up to its first parameter, wildcard or group, and
 * whether it stopped at one (`false`: the whole pattern is literal).
 */
export function literalStart(pattern: string): { text: string; cut: boolean; at: string } {
  let text = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string
    if (c === '\\' && i + 1 < pattern.length) {
      text += pattern[++i]
      continue
    }
    if (c === ':' || c === '*' || c === '{' || c === '(') {
      return { text, cut: true, at: pattern.slice(i, i + 2) }
    }
    text += c
  }
  return { text, cut: false, at: '' }
}
