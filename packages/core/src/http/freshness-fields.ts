import { type CacheControl, cacheControlDirectives, parseCacheControl } from './cache-control'
import { parseHttpDate } from './http-date'

// Reading the fields and directive values the freshness rules use, the
// conservative way: a duplicated, malformed or out-of-range value is read as
// RFC 9111 asks (invalid, capped, or the strictest form).

/** One header field value as Node gives it (`OutgoingHttpHeaders`, `IncomingHttpHeaders`). */
export type HeaderValue = string | readonly string[] | number | undefined

/** A header record; names are matched case-insensitively. */
export type HeaderRecord = Readonly<Record<string, HeaderValue>>

/** RFC 9111 §1.2.2: a delta-seconds above 2^31 is read as 2^31. */
export const MAX_DELTA_SECONDS = 2 ** 31

/** A field by case-insensitive name; an empty list is no field. */
export function field(headers: HeaderRecord, name: string): string | readonly string[] | undefined {
  let value = headers[name]
  if (value === undefined) {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === name) {
        value = headers[key]
        if (value !== undefined) break
      }
    }
  }
  if (value === undefined) return undefined
  if (typeof value === 'number') return String(value)
  if (typeof value !== 'string' && value.length === 0) return undefined
  return value
}

/**
 * A date field that must occur once (`Date`, `Expires`, `Last-Modified`):
 * undefined when absent, invalid, or given several times with different values
 * (RFC 9111 §4.2.1: a duplicated value may be treated as invalid).
 */
export function singletonDate(
  value: string | readonly string[] | undefined,
  now: number,
): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') return parseHttpDate(value, now)
  let out: number | undefined
  for (const line of value) {
    const parsed = parseHttpDate(line, now)
    if (parsed === undefined || (out !== undefined && parsed !== out)) return undefined
    out = parsed
  }
  return out
}

/**
 * RFC 9111 §1.2.2: delta-seconds is 1*DIGIT, capped at 2^31; anything else
 * (sign, fraction, empty, no value) is undefined. The quoted form was unquoted
 * by the parser; §5.2 asks recipients to accept it.
 */
export function deltaSeconds(value: string | true): number | undefined {
  if (value === true) return undefined
  const text = value.trim()
  if (!/^\d+$/.test(text)) return undefined
  return Math.min(Number(text), MAX_DELTA_SECONDS)
}

/**
 * An expiration directive of the response: undefined when absent; 0 (stale)
 * when invalid or repeated with different values (RFC 9111 §4.2.1).
 */
export function explicitDelta(directives: Directive[], name: string): number | undefined {
  let out: number | undefined
  for (const [n, value] of directives) {
    if (n !== name) continue
    const seconds = deltaSeconds(value)
    if (seconds === undefined || (out !== undefined && seconds !== out)) return 0
    out = seconds
  }
  return out
}

/**
 * A request directive's value, the strictest of its occurrences by `pick`;
 * `malformed` stands for an invalid value, `bare` for the directive without one.
 */
export function strictest(
  directives: Directive[],
  name: string,
  malformed: number,
  pick: (a: number, b: number) => number,
  bare = malformed,
): number | undefined {
  let out: number | undefined
  for (const [n, value] of directives) {
    if (n !== name) continue
    const seconds = value === true ? bare : (deltaSeconds(value) ?? malformed)
    out = out === undefined ? seconds : pick(out, seconds)
  }
  return out
}

export type Directive = [name: string, value: string | true]

/** Every Cache-Control directive in order, repeats included (the parser keeps only the first). */
export function directiveList(value: string | readonly string[] | undefined): Directive[] {
  return cacheControlDirectives(value)
}

export function toCacheControl(value: CacheControl | HeaderValue): CacheControl {
  return isCacheControl(value) ? value : parseCacheControl(value)
}

function isCacheControl(value: CacheControl | HeaderValue): value is CacheControl {
  return value instanceof Map
}
