import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import {
  AdminBodyError,
  AdminTokenChecker,
  MAX_ADMIN_BODY_BYTES,
  readJsonBody,
} from '../../src/admin'
import { CachetConfigError } from '../../src/errors'
import { thrown } from '../support'

// The admin API's token rules and body reading, without HTTP.

const TOKEN = 'a-long-enough-token-0123456789'
const OTHER = 'another-long-token-9876543210'

const refused: [string, unknown, RegExp][] = [
  ['no tokens', undefined, /refuses to run without one/],
  ['an empty string', '', /refuses to run without one/],
  ['null', null, /refuses to run without one/],
  ['an empty record', {}, /expected at least one token/],
  ['an array', [TOKEN], /expected a token string, or a record/],
  ['a number', 42, /expected a token string, or a record/],
  ['a short token', 'short', /at least 16 visible ASCII characters.*got a string of 5 characters/],
  ['a token with a space', 'a token with spaces in it', /visible ASCII/],
  ['a non-ASCII token', 'pâte-à-tartiner-é-1234', /visible ASCII/],
  ['a short named token', { deploy: 'short' }, /token "deploy"/],
  ['a bad name', { 'bad name': TOKEN }, /token names of 1-64 characters/],
  ['one token for two names', { a: TOKEN, b: TOKEN }, /a different token for each name/],
]

describe('AdminTokenChecker refuses', () => {
  test.each(refused)('%s', (_, tokens, message) => {
    const err = thrown(() => new AdminTokenChecker(tokens))
    expect(err).toBeInstanceOf(CachetConfigError)
    expect(err.code).toBe('CACHET_INVALID_OPTION')
    expect(err.message).toMatch(/^admin: option "tokens": expected /)
    expect(err.message).toMatch(message)
    // A token never appears in an error message (which may be logged).
    if (typeof tokens === 'string' && tokens.length > 0) expect(err.message).not.toContain(tokens)
  })
})

describe('AdminTokenChecker.check', () => {
  const single = new AdminTokenChecker(TOKEN)
  const named = new AdminTokenChecker({ deploy: TOKEN, oncall: OTHER })

  const cases: [string, AdminTokenChecker, string | undefined, string | undefined][] = [
    ['a single token is named admin', single, `Bearer ${TOKEN}`, 'admin'],
    ['the scheme is case-insensitive', single, `bearer ${TOKEN}`, 'admin'],
    ['missing header', single, undefined, undefined],
    ['empty header', single, '', undefined],
    ['another scheme', single, `Basic ${TOKEN}`, undefined],
    ['no token after the scheme', single, 'Bearer ', undefined],
    ['a wrong token', single, 'Bearer wrong-token-wrong-token-00', undefined],
    ['a prefix of the token', single, `Bearer ${TOKEN.slice(0, -1)}`, undefined],
    ['the token and more', single, `Bearer ${TOKEN}x`, undefined],
    ['two tokens in one header', single, `Bearer ${TOKEN} ${TOKEN}`, undefined],
    ['named: first', named, `Bearer ${TOKEN}`, 'deploy'],
    ['named: second', named, `Bearer ${OTHER}`, 'oncall'],
  ]
  test.each(cases)('%s', (_, checker, header, name) => {
    expect(checker.check(header)).toBe(name)
  })
})

/** A request stream as `http` gives it, with `headers`. */
function incoming(body: string | Buffer, headers: Record<string, string> = {}): IncomingMessage {
  const stream = Readable.from([Buffer.from(body)]) as unknown as IncomingMessage
  stream.headers = headers
  return stream
}

describe('readJsonBody', () => {
  test('parses the stream', async () => {
    await expect(readJsonBody(incoming('{"tags":["a"]}'))).resolves.toEqual({ tags: ['a'] })
  })

  test('uses what a body parser left when the stream was consumed', async () => {
    const req = incoming('{"tags":["a"]}')
    for await (const _ of req) {
      // drain, as a body parser would
    }
    await expect(readJsonBody(req, { tags: ['parsed'] })).resolves.toEqual({ tags: ['parsed'] })
    await expect(readJsonBody(req, undefined)).rejects.toMatchObject({ status: 400 })
  })

  test.each([
    ['invalid JSON', '{tags', 400, /invalid JSON/],
    ['no body', '', 400, /got none/],
    ['too large', 'x'.repeat(MAX_ADMIN_BODY_BYTES + 1), 413, /larger than 65536 bytes/],
  ])('%s: %d', async (_, body, status, message) => {
    const req = incoming(body)
    const err = await readJsonBody(req).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AdminBodyError)
    expect(err).toMatchObject({ status, close: false })
    expect((err as Error).message).toMatch(message)
    // Read to the end, so that the client gets the answer, not a reset.
    expect(req.readableEnded).toBe(true)
  })

  test('a declared length over the limit: 413, after reading the rest', async () => {
    const req = incoming('{}', { 'content-length': String(MAX_ADMIN_BODY_BYTES + 1) })
    await expect(readJsonBody(req)).rejects.toMatchObject({ status: 413, close: false })
  })

  test('a body far over the limit is left unread, and the connection must close', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x')
    const req = Readable.from(Array.from({ length: 40 }, () => chunk)) as unknown as IncomingMessage
    req.headers = {}
    await expect(readJsonBody(req)).rejects.toMatchObject({ status: 413, close: true })
    expect(req.readableEnded).toBe(false)
  })
})
