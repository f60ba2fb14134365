import { describeValue } from '../errors'
import { compileTags } from './compile-tags'
import type { CompiledPath } from './path-pattern'
import { checkPattern, type RuleContext, stringList } from './rule-context'
import type {
  CacheRule,
  CompiledRuleBase,
  CompiledWriteRule,
  InvalidationFailureMode,
  InvalidationSpec,
} from './types'

/** What is wrong with an `onInvalidationFailure` value, if anything. */
export function invalidationFailureProblem(value: unknown): string | undefined {
  if (value === 'reject' || value === 'defer') return undefined
  return `expected 'reject' or 'defer', got ${describeValue(value)}`
}

function checkFailureMode(ctx: RuleContext, value: unknown): InvalidationFailureMode {
  const problem = invalidationFailureProblem(value)
  if (problem !== undefined) ctx.fail('onInvalidationFailure', problem)
  return value as InvalidationFailureMode
}

/** `invalidates`: tag templates, or `{ tags?, patterns?, user? }`; at least one of them. */
function compileInvalidates(ctx: RuleContext, value: unknown, path: CompiledPath) {
  const spec: InvalidationSpec = Array.isArray(value)
    ? { tags: value }
    : (value as InvalidationSpec)
  if (typeof spec !== 'object' || spec === null) {
    ctx.fail(
      'invalidates',
      `expected tag templates or { tags?, patterns?, user? }, got ${describeValue(value)}`,
    )
  }
  const { tags = [], patterns = [], user = false, mode, ...rest } = spec
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined)
    ctx.unknown(unknown, ['tags', 'patterns', 'user', 'mode'], 'invalidates.')
  if (typeof user !== 'boolean')
    ctx.fail('invalidates.user', `expected a boolean, got ${describeValue(user)}`)
  if (mode !== undefined && mode !== 'delete' && mode !== 'expire')
    ctx.fail('invalidates.mode', `expected 'delete' or 'expire', got ${describeValue(mode)}`)
  if (mode === 'expire' && patterns.length > 0)
    ctx.fail('invalidates.mode', "'expire' takes tags and user; a pattern is always deleted")
  const compiled = {
    // The writer's own user id is known to a write rule through `identify`.
    tags: compileTags(ctx, 'invalidates.tags', tags, path, true),
    patterns: stringList(ctx, 'invalidates.patterns', patterns).map((p) => {
      checkPattern(ctx, 'invalidates.patterns', p)
      return p
    }),
    user,
    ...(mode === 'expire' ? { expire: true } : {}),
  }
  if (compiled.tags.length + compiled.patterns.length === 0 && !user) {
    ctx.fail('invalidates', 'expected at least one tag, pattern or user: true')
  }
  return compiled
}

/**
 * The options of a write rule (one with `invalidates`), after the ones every
 * rule has (`base`: name, path, methods).
 */
export function compileWriteRule(
  ctx: RuleContext,
  rule: CacheRule,
  base: CompiledRuleBase,
  path: CompiledPath,
): CompiledWriteRule {
  return {
    ...base,
    kind: 'invalidate',
    invalidates: compileInvalidates(ctx, rule.invalidates, path),
    ...(rule.onInvalidationFailure === undefined
      ? {}
      : { onInvalidationFailure: checkFailureMode(ctx, rule.onInvalidationFailure) }),
  }
}
