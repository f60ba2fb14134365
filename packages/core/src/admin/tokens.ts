import { createHash, timingSafeEqual } from 'node:crypto'
import { CachetConfigError, describeValue } from '../errors'

/**
 * The admin API's bearer tokens: one token (named `admin`), or several by
 * name (`{ deploy: '…', oncall: '…' }`), so that each invalidation is
 * recorded with the name of the token that asked for it.
 */
export type AdminTokens = string | Readonly<Record<string, string>>

/**
 * Shorter tokens are refused: the token is all that stands between a client
 * and `invalidate`, and a short one can be guessed. `openssl rand -hex 32`
 * makes a good one.
 */
export const MIN_TOKEN_LENGTH = 16

/** The name a single-string `tokens` option goes by. */
export const DEFAULT_TOKEN_NAME = 'admin'

// Visible ASCII: what fits in an `Authorization: Bearer` header unquoted.
const TOKEN_CHARS = /^[\x21-\x7e]+$/
const NAME = /^[A-Za-z0-9_.:@-]{1,64}$/
const BEARER = /^Bearer +(\S+) *$/i

interface KnownToken {
  readonly name: string
  readonly digest: Buffer
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

function fail(expected: string, given: string): never {
  throw new CachetConfigError(
    'CACHET_INVALID_OPTION',
    `admin: option "tokens": expected ${expected}, got ${given}`,
  )
}

function checkToken(name: string, token: unknown): string {
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || !TOKEN_CHARS.test(token)) {
    // Never echo the token itself: the message may end up in a log.
    const given =
      typeof token === 'string' ? `a string of ${token.length} characters` : describeValue(token)
    fail(
      `token "${name}" to be at least ${MIN_TOKEN_LENGTH} visible ASCII characters without spaces`,
      given,
    )
  }
  return token
}

/**
 * Checks bearer tokens in constant time. Each token is kept only as its
 * SHA-256 digest, and a presented token is hashed before the comparison, so
 * `timingSafeEqual` always compares 32 bytes: neither a token's content nor
 * its length shows in the time an answer takes. Every known token is
 * compared, match or not.
 */
export class AdminTokenChecker {
  readonly #tokens: readonly KnownToken[]

  constructor(tokens: unknown) {
    if (tokens === undefined || tokens === null || tokens === '') {
      fail(
        'a token string, or a record { name: token } (the admin API refuses to run without one)',
        describeValue(tokens),
      )
    }
    const entries: [string, unknown][] =
      typeof tokens === 'string'
        ? [[DEFAULT_TOKEN_NAME, tokens]]
        : typeof tokens === 'object' && !Array.isArray(tokens)
          ? Object.entries(tokens)
          : fail('a token string, or a record { name: token }', describeValue(tokens))
    if (entries.length === 0) fail('at least one token', 'an empty record')
    const seen = new Set<string>()
    this.#tokens = entries.map(([name, token]) => {
      if (!NAME.test(name)) {
        fail('token names of 1-64 characters [A-Za-z0-9_.:@-]', describeValue(name))
      }
      const value = checkToken(name, token)
      // Two names for one token would make attribution a guess.
      if (seen.has(value)) fail('a different token for each name', `"${name}" reusing a token`)
      seen.add(value)
      return { name, digest: sha256(value) }
    })
  }

  /** The name of the token an `Authorization` header carries; `undefined` when missing or unknown. */
  check(authorization: string | undefined): string | undefined {
    const presented = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1]
    const digest = sha256(presented ?? '')
    let found: string | undefined
    for (const token of this.#tokens) {
      if (timingSafeEqual(digest, token.digest) && presented !== undefined) found ??= token.name
    }
    return found
  }
}
