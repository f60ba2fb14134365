import type { StoredResponse } from '../tiers/remote-tier'

/**
 * A stored entry in a shared tier (Redis, Keyv): a versioned binary envelope.
 *
 *   bytes 0-3   "CCH" + format version (1)
 *   bytes 4-7   length of the metadata, big-endian
 *   metadata    JSON: status, headers, validator, times, tags, the tag
 *               versions read when the fill started, the pattern sequence
 *   body        the response bytes, raw (never base64 or JSON-escaped)
 *
 * Redis's Lua scripts read the metadata (with `struct` and `cjson`) to check
 * the versions atomically with the read. Anything else is corrupt: a
 * miss, and deleted.
 */
export const ENVELOPE_MAGIC = Buffer.from([0x43, 0x43, 0x48, 0x01])
const HEADER_BYTES = 8

export interface EnvelopeMeta {
  /** status */
  s: number
  /** flat headers */
  h: string[]
  /** etag */
  e: string | null
  /** cachedAt, staleAt, deleteAt */
  c: number
  st: number
  d: number
  /** tags and the versions they had when the fill started */
  t: string[]
  v: string[]
  /** pattern sequence when the fill started */
  p: number
  /** request path */
  u: string
  /** the shared tier's keyspace epoch when the fill started ('' where there is none) */
  ep: string
  /** the tags' expire records when the fill started ('' for none); absent in older envelopes */
  x?: string[]
}

export function encodeEnvelope(
  r: StoredResponse,
  versions: readonly string[],
  patternSeq: number,
  epoch = '',
  expires: readonly string[] = [],
): Buffer {
  const meta: EnvelopeMeta = {
    s: r.status,
    h: [...r.headers],
    e: r.etag ?? null,
    c: r.cachedAt,
    st: r.staleAt,
    d: r.deleteAt,
    t: [...r.tags],
    v: [...versions],
    p: patternSeq,
    u: r.path,
    ep: epoch,
    x: [...expires],
  }
  const json = Buffer.from(JSON.stringify(meta))
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  ENVELOPE_MAGIC.copy(header, 0)
  header.writeUInt32BE(json.length, 4)
  return Buffer.concat([header, json, r.body])
}

/** The fence part of an envelope's metadata: tags, their versions and expire records, the pattern sequence, the epoch. */
export function decodeEnvelopeFence(
  buf: Buffer,
): Pick<EnvelopeMeta, 't' | 'v' | 'p' | 'x' | 'ep'> | undefined {
  const meta = decodeMeta(buf)
  if (
    meta === undefined ||
    !Array.isArray(meta.t) ||
    !Array.isArray(meta.v) ||
    typeof meta.p !== 'number'
  ) {
    return undefined
  }
  return meta
}

function decodeMeta(buf: Buffer): EnvelopeMeta | undefined {
  if (buf.length < HEADER_BYTES || !buf.subarray(0, 4).equals(ENVELOPE_MAGIC)) return undefined
  const length = buf.readUInt32BE(4)
  if (HEADER_BYTES + length > buf.length) return undefined
  try {
    return JSON.parse(
      buf.subarray(HEADER_BYTES, HEADER_BYTES + length).toString('utf8'),
    ) as EnvelopeMeta
  } catch {
    return undefined
  }
}

/** Decodes an envelope; `undefined` when it is not one this version wrote. */
export function decodeEnvelope(buf: Buffer): StoredResponse | undefined {
  if (buf.length < HEADER_BYTES || !buf.subarray(0, 4).equals(ENVELOPE_MAGIC)) return undefined
  const length = buf.readUInt32BE(4)
  if (HEADER_BYTES + length > buf.length) return undefined
  let meta: EnvelopeMeta
  try {
    meta = JSON.parse(
      buf.subarray(HEADER_BYTES, HEADER_BYTES + length).toString('utf8'),
    ) as EnvelopeMeta
  } catch {
    return undefined
  }
  if (
    typeof meta.s !== 'number' ||
    !Array.isArray(meta.h) ||
    !Array.isArray(meta.t) ||
    typeof meta.c !== 'number' ||
    typeof meta.st !== 'number' ||
    typeof meta.d !== 'number' ||
    typeof meta.u !== 'string'
  ) {
    return undefined
  }
  return {
    status: meta.s,
    headers: meta.h,
    body: buf.subarray(HEADER_BYTES + buf.readUInt32BE(4)),
    etag: meta.e ?? undefined,
    cachedAt: meta.c,
    staleAt: meta.st,
    deleteAt: meta.d,
    tags: meta.t,
    path: meta.u,
  }
}

/**
 * When the first of the tags' expire records that moved since the fill was
 * made (`invalidate({ mode: 'expire' })`): `current` and `had` are the
 * records now and as the entry stored them (`''` for none; a record is
 * `<version>@<ms>`, `@0` for the baseline a read creates). `undefined` when
 * none moved; 0 when a record is gone or was recreated (its time unknown:
 * the entry counts as stale since long ago).
 */
export function expiredSince(
  current: readonly string[],
  had: readonly string[] | undefined,
): number | undefined {
  let at: number | undefined
  for (let i = 0; i < current.length; i++) {
    const now = current[i] ?? ''
    const was = had?.[i] ?? ''
    if (now === was) continue
    // An entry from before expire records (none stored) against a baseline or none: never expired.
    if (was === '' && (now === '' || now.endsWith('@0'))) continue
    const ms = Number(now.slice(now.lastIndexOf('@') + 1))
    const t = now === '' || !Number.isFinite(ms) ? 0 : ms
    at = at === undefined ? t : Math.min(at, t)
  }
  return at
}

/**
 * `response` stale from `expiredAt` on: the earliest of that, its own
 * freshness and now (a reader whose clock is behind the invalidator's
 * still finds it stale).
 */
export function expiredCopy(
  response: StoredResponse,
  expiredAt: number | undefined,
): StoredResponse {
  if (expiredAt === undefined) return response
  return { ...response, staleAt: Math.min(response.staleAt, expiredAt, Date.now()), expired: true }
}
