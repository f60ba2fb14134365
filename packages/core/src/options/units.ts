import { describeValue } from '../errors'

/** The units of a duration string: milliseconds, seconds, minutes, hours, days. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/**
 * A duration: seconds as a number (`60`, `0.5`), or a string of a number and
 * an optional unit (`'60'` is seconds, `'500ms'`, `'1.5s'`, `'5m'`, `'1h'`,
 * `'1d'`, a space allowed before the unit: `'5 m'`). Units are lower case.
 * `parseDuration` accepts exactly these forms; it also refuses what the type
 * cannot rule out: negative numbers and exponents (`'-1s'`, `'1e3s'`).
 */
export type Duration =
  | number
  | `${number}`
  | `${number}${DurationUnit}`
  | `${number} ${DurationUnit}`

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/
const DURATION_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/**
 * Parses a duration given as seconds (a number) or a string such as `'500ms'`,
 * `'60s'`, `'5m'`, `'1h'`, `'1d'` (a bare number string is seconds). Returns
 * milliseconds, or an error message naming what was expected.
 */
export function parseDuration(value: unknown): number | string {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value * 1000)
    return `expected a duration of 0 seconds or more, got ${describeValue(value)}`
  }
  if (typeof value === 'string') {
    const m = DURATION.exec(value.trim())
    if (m) return Math.round(Number(m[1]) * (DURATION_MS[m[2] ?? 's'] ?? 1000))
  }
  return `expected seconds (a number) or a duration string like '60s', '5m', '500ms', got ${describeValue(value)}`
}

/** `S` in any mix of upper and lower case. */
type AnyCase<S extends string> = S extends `${infer H}${infer T}`
  ? `${Uppercase<H> | Lowercase<H>}${AnyCase<T>}`
  : ''

/** The units of a size string, in any case: `b`, `kb`, `KiB`, `MB`, `MiB`, `gb`, `GiB`. */
export type SizeUnit = AnyCase<'b' | 'kb' | 'kib' | 'mb' | 'mib' | 'gb' | 'gib'>

/** A byte size: a number of bytes, or a string such as `'512kb'`, `'1MiB'`, `'1 GiB'`. */
export type Size = number | `${number}` | `${number}${SizeUnit}` | `${number} ${SizeUnit}`

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
}

/** Parses a byte size: a number of bytes or a string such as `'1MiB'`, `'512kb'`. */
export function parseSize(value: unknown): number | string {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value
    return `expected a whole number of bytes (0 or more), got ${describeValue(value)}`
  }
  if (typeof value === 'string') {
    const m = SIZE.exec(value.trim())
    if (m) return Math.floor(Number(m[1]) * (SIZE_BYTES[(m[2] ?? 'b').toLowerCase()] ?? 1))
  }
  return `expected bytes (a number) or a size string like '1MiB', '512kb', got ${describeValue(value)}`
}
