import zlib from 'node:zlib'
import { parseCacheControl } from './cache-control'

/**
 * Stored encodings of a response, for rules with `compress: true`: computed
 * once when the copy enters the memory tier, so that a hit sends the encoding
 * its client accepts without compressing anything.
 */
export type Coding = 'br' | 'gzip'

export interface EncodedVariants {
  readonly br?: Buffer
  readonly gzip?: Buffer
  /** The stored headers with `Vary: Accept-Encoding` added: every answer of the key says it. */
  readonly headers: readonly string[]
  /** Their bytes, counted against the memory budget. */
  readonly size: number
}

/** Smaller bodies are sent as they are: the framing would eat most of the gain. */
export const MIN_COMPRESS_BYTES = 1024

const COMPRESSIBLE =
  /^(?:text\/|application\/(?:json|javascript|ecmascript|xml|x-www-form-urlencoded)|image\/svg\+xml|[a-z]+\/[^;\s]*\+(?:json|xml))/i

function field(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1]
  return undefined
}

function withVary(headers: readonly string[]): string[] {
  const out = [...headers]
  const at = out.indexOf('vary')
  if (at === -1 || at % 2 === 1) out.push('vary', 'accept-encoding')
  else if (!/(^|,)\s*accept-encoding\s*(,|$)/i.test(out[at + 1] as string))
    out[at + 1] = `${out[at + 1]}, accept-encoding`
  return out
}

/**
 * The br and gzip encodings of a stored 200 worth compressing: at least
 * `MIN_COMPRESS_BYTES`, a compressible type, not already encoded, and not
 * `no-transform` (RFC 9110 §7.7). Each is kept only when smaller. Brotli runs
 * at quality 5: most of its gain for a fraction of the CPU of its default 11.
 */
export function encodeVariants(
  status: number,
  headers: readonly string[],
  body: Buffer,
): EncodedVariants | undefined {
  if (status !== 200 || body.length < MIN_COMPRESS_BYTES) return undefined
  if (field(headers, 'content-encoding') !== undefined) return undefined
  const type = field(headers, 'content-type')
  if (type === undefined || !COMPRESSIBLE.test(type)) return undefined
  if (parseCacheControl(field(headers, 'cache-control')).has('no-transform')) return undefined
  const br = zlib.brotliCompressSync(body, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  })
  const gzip = zlib.gzipSync(body, { level: 6 })
  const variants = {
    br: br.length < body.length ? br : undefined,
    gzip: gzip.length < body.length ? gzip : undefined,
  }
  if (variants.br === undefined && variants.gzip === undefined) return undefined
  const vary = withVary(headers)
  let size = (variants.br?.length ?? 0) + (variants.gzip?.length ?? 0)
  for (const h of vary) size += Buffer.byteLength(h) + 16
  return { ...variants, headers: vary, size }
}

/**
 * The stored coding to send for an `Accept-Encoding` (RFC 9110 §12.5.3): the
 * acceptable one with the highest q-value, br before gzip on a tie;
 * `undefined` for identity (no header, nothing acceptable, or `identity` preferred).
 */
export function chooseCoding(
  acceptEncoding: string | readonly string[] | undefined,
  available: { readonly br?: Buffer; readonly gzip?: Buffer },
): Coding | undefined {
  if (acceptEncoding === undefined) return undefined
  const text = typeof acceptEncoding === 'string' ? acceptEncoding : acceptEncoding.join(',')
  const q: Record<string, number> = {}
  for (const part of text.split(',')) {
    const [rawName, ...params] = part.split(';')
    const name = (rawName as string).trim().toLowerCase()
    if (name === '') continue
    let weight = 1
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p)
      if (m) weight = Number(m[1])
    }
    if (q[name] === undefined) q[name] = weight
  }
  const weightOf = (c: string) => q[c] ?? (c !== 'identity' ? q['*'] : undefined) ?? 0
  // Identity is always acceptable unless refused; it ranks by its own q (or
  // `*`'s), else below every coding the client lists (it listed them to get them).
  const identity = q.identity ?? q['*'] ?? 0
  let best: Coding | undefined
  let bestQ = 0
  for (const c of ['br', 'gzip'] as const) {
    if (available[c] === undefined) continue
    const w = weightOf(c)
    if (w > bestQ) {
      best = c
      bestQ = w
    }
  }
  return best !== undefined && bestQ >= identity ? best : undefined
}

/** The validator of an encoded representation: its own strong tag (RFC 9110 §8.8.3). */
export function codedEtag(etag: string, coding: Coding): string {
  return `${etag.slice(0, -1)}-${coding}"`
}
