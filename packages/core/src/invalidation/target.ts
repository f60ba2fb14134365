import { CachetInvalidationError, describeValue } from '../errors'
import { compilePath } from '../rules/path-pattern'

/** What `invalidate()` accepts: any of tags, a path pattern, a user, a tenant. */
export interface InvalidationTarget {
  tags?: readonly string[]
  pattern?: string
  user?: string
  /** Every entry of the tenant, under every rule with a `tenant` (its implicit tag). */
  tenant?: string
  /**
   * `'delete'` (the default): the entries are gone. `'expire'`: they are
   * stale from now on, still served inside their rules' stale windows
   * (while one request refreshes them, or when the origin fails or is
   * slow); a later `'delete'` removes them all the same. Tags, users and
   * tenants only: a pattern is always deleted.
   */
  mode?: 'delete' | 'expire'
}

/** A validated target, in the engine's plural form (write rules give several patterns). */
export interface NormalizedTarget {
  readonly tags: readonly string[]
  readonly patterns: readonly string[]
  readonly users: readonly string[]
  readonly tenants: readonly string[]
  /** `mode: 'expire'`. */
  readonly expire?: boolean
}

function fail(field: string, problem: string): never {
  throw new CachetInvalidationError(
    'CACHET_INVALID_INVALIDATION',
    `invalidate(): "${field}": ${problem}`,
    { field },
  )
}

/** Validates a caller's target; throws a `CachetInvalidationError` naming the bad field. */
export function normalizeTarget(input: unknown): NormalizedTarget {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail(
      'target',
      `expected an object { tags?, pattern?, user?, tenant? }, got ${describeValue(input)}`,
    )
  }
  const { tags, pattern, user, tenant, mode, ...rest } = input as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined)
    fail(unknown, 'unknown field (expected tags, pattern, user, tenant or mode)')
  if (mode !== undefined && mode !== 'delete' && mode !== 'expire')
    fail('mode', `expected 'delete' or 'expire', got ${describeValue(mode)}`)
  if (mode === 'expire' && pattern !== undefined)
    fail('mode', "'expire' takes tags, user or tenant; a pattern is always deleted")
  const out = {
    tags: [] as string[],
    patterns: [] as string[],
    users: [] as string[],
    tenants: [] as string[],
    ...(mode === 'expire' ? { expire: true } : {}),
  }
  if (tags !== undefined) {
    if (!Array.isArray(tags))
      fail('tags', `expected an array of strings, got ${describeValue(tags)}`)
    for (const tag of tags) {
      if (typeof tag !== 'string' || tag === '') {
        fail('tags', `expected non-empty strings, got ${describeValue(tag)}`)
      }
      if (tag.startsWith('#')) fail('tags', `tags starting with "#" are reserved, got "${tag}"`)
      out.tags.push(tag)
    }
  }
  if (pattern !== undefined) {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
      fail('pattern', `expected a path pattern starting with "/", got ${describeValue(pattern)}`)
    }
    try {
      compilePath(pattern)
    } catch (err) {
      fail('pattern', `invalid path pattern "${pattern}": ${(err as Error).message}`)
    }
    out.patterns.push(pattern)
  }
  if (user !== undefined) {
    if (typeof user !== 'string' || user === '') {
      fail('user', `expected a non-empty string, got ${describeValue(user)}`)
    }
    out.users.push(user)
  }
  if (tenant !== undefined) {
    if (typeof tenant !== 'string' || tenant === '') {
      fail('tenant', `expected a non-empty string, got ${describeValue(tenant)}`)
    }
    out.tenants.push(tenant)
  }
  if (out.tags.length + out.patterns.length + out.users.length + out.tenants.length === 0) {
    fail('target', 'nothing to invalidate: give at least one of tags, pattern, user or tenant')
  }
  return out
}

/** The implicit tag carried by every entry of `tenant` (rules with a `tenant`). */
export function tenantTag(tenant: string): string {
  return `#tenant:${tenant}`
}

/** The implicit tag carried by every per-user entry of `user`. */
export function userTag(user: string): string {
  return `#user:${user}`
}
