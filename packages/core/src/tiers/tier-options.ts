import { CachetConfigError, describeValue } from '../errors'
import { parseDuration } from '../options/units'

/** Node's timers fire at once beyond this (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Option checks shared by the shared tiers' factories, with one message shape:
 * `redisTier(): option "lease": expected …, got …`.
 */
export class TierOptionChecker {
  readonly #factory: string

  constructor(factory: string) {
    this.#factory = factory
  }

  fail(option: string, problem: string): never {
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `${this.#factory}(): option "${option}": ${problem}`,
    )
  }

  /** A duration above 0; with `timer`, one that a Node timer can wait (deadlines, leases). */
  duration(option: string, value: unknown, fallback: number | string, timer = true): number {
    const ms = parseDuration(value ?? fallback)
    if (typeof ms === 'string') this.fail(option, ms)
    if (ms <= 0) this.fail(option, `expected more than 0, got ${describeValue(value)}`)
    if (timer && ms > MAX_TIMER_MS)
      this.fail(option, `expected at most ${MAX_TIMER_MS} ms, got ${ms} ms`)
    return ms
  }

  /** A key prefix: 1 to 64 letters, digits, `_`, `-`, `.`, `:`. */
  prefix(value: unknown): string {
    const prefix = value ?? 'cachet'
    if (typeof prefix !== 'string' || !/^[\w.:-]{1,64}$/.test(prefix)) {
      this.fail(
        'prefix',
        `expected 1 to 64 letters, digits, "_", "-", ".", ":", got ${describeValue(prefix)}`,
      )
    }
    return prefix
  }

  /** A whole number of 1 or more. */
  count(option: string, value: unknown, fallback: number): number {
    const n = value ?? fallback
    if (!Number.isSafeInteger(n) || (n as number) < 1) {
      this.fail(option, `expected a whole number of 1 or more, got ${describeValue(value)}`)
    }
    return n as number
  }

  /** Only the named options. */
  known(options: object, names: readonly string[]): void {
    for (const k of Object.keys(options)) {
      if (!names.includes(k)) this.fail(k, `unknown option (expected one of ${names.join(', ')})`)
    }
  }
}
