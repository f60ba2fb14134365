/**
 * One error module: a base class with a stable `code`, a few subclasses and a
 * guard. Callers branch on `code`, never on message text.
 */
export type CachetErrorCode =
  | 'CACHET_INVALID_OPTION'
  | 'CACHET_INVALID_RULE'
  | 'CACHET_INVALID_INVALIDATION'
  | 'CACHET_INVALIDATION_FAILED'

export class CachetError extends Error {
  readonly code: CachetErrorCode

  constructor(code: CachetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** A bad option or rule, thrown at start-up (by `cacheMiddleware()` / `createCache()`). */
export class CachetConfigError extends CachetError {}

/** A bad argument to `invalidate()`, or an invalidation that could not be made durable. */
export class CachetInvalidationError extends CachetError {
  /**
   * For `CACHET_INVALID_INVALIDATION`: the target's field at fault (`tags`,
   * `pattern`, `user`, an unknown field's name, or `target` for the whole),
   * so that an HTTP API can name it without parsing the message.
   */
  readonly field: string | undefined

  constructor(
    code: CachetErrorCode,
    message: string,
    options?: { cause?: unknown; field?: string },
  ) {
    super(code, message, options)
    this.field = options?.field
  }
}

export function isCachetError(value: unknown): value is CachetError {
  return value instanceof CachetError
}

/** Describes a value for an error message: `"abc"`, `-1`, `an object`, `undefined`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value)
  }
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return `an array of ${value.length}`
  return `a ${typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value}`
}
