import { CachetConfigError, describeValue } from '../errors'
import { unknownOption } from '../options/unknown-option'
import { type CompiledPath, compilePath } from './path-pattern'

/**
 * Where a rule's options are checked: the one error shape (which rule, which
 * option, what was expected, what was given), and the checks every kind of
 * option shares (lists of strings, booleans, header names, path patterns).
 */
export class RuleContext {
  constructor(
    readonly index: number,
    readonly label: string,
    /** Checking `defaults`: errors name `defaults.<option>`. */
    readonly defaults = false,
  ) {}

  fail(option: string, problem: string): never {
    if (this.defaults) {
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        `option "defaults.${option}": ${problem}`,
      )
    }
    throw new CachetConfigError(
      'CACHET_INVALID_RULE',
      `rules[${this.index}] (${this.label}): option "${option}": ${problem}`,
    )
  }

  check<T>(option: string, parsed: T | string): T {
    if (typeof parsed === 'string') this.fail(option, parsed)
    return parsed as T
  }

  /** `unknown option "tll" (did you mean "ttl"?)`: `prefix` is the enclosing option's (`key.`). */
  unknown(option: string, known: Iterable<string>, prefix = ''): never {
    if (this.defaults) {
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        unknownOption(option, known, `defaults.${prefix}`),
      )
    }
    throw new CachetConfigError(
      'CACHET_INVALID_RULE',
      `rules[${this.index}] (${this.label}): ${unknownOption(option, known, prefix)}`,
    )
  }
}

export function stringList(ctx: RuleContext, option: string, value: unknown): string[] {
  if (!Array.isArray(value))
    ctx.fail(option, `expected an array of strings, got ${describeValue(value)}`)
  for (const v of value) {
    if (typeof v !== 'string' || v.length === 0) {
      ctx.fail(option, `expected non-empty strings, got ${describeValue(v)}`)
    }
  }
  return value as string[]
}

export function checkBoolean(ctx: RuleContext, option: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean')
    ctx.fail(option, `expected true or false, got ${describeValue(value)}`)
  return value
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An HTTP token (RFC 9110 §5.6.2): a header name, a cookie name. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Header names, lower-cased, deduplicated and sorted; each must be an HTTP token. */
export function headerNames(ctx: RuleContext, option: string, value: unknown): string[] {
  const names = stringList(ctx, option, value)
  for (const n of names) {
    if (!TOKEN.test(n)) ctx.fail(option, `${describeValue(n)} is not a header name`)
  }
  return [...new Set(names.map((n) => n.toLowerCase()))].sort()
}

/** A path pattern (a rule's `path`, an invalidated pattern), compiled. */
export function checkPattern(ctx: RuleContext, option: string, pattern: string): CompiledPath {
  if (!pattern.startsWith('/'))
    ctx.fail(option, `expected a path starting with "/", got "${pattern}"`)
  try {
    return compilePath(pattern)
  } catch (err) {
    return ctx.fail(option, `invalid path pattern "${pattern}": ${(err as Error).message}`)
  }
}
