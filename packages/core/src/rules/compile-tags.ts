import type { CompiledPath } from './path-pattern'
import { type RuleContext, stringList } from './rule-context'
import { compileTemplate, type TagTemplate } from './template'

const TAG_MAX_LENGTH = 256

/**
 * Tag templates of a rule (a cache rule's `tags`, a write rule's
 * `invalidates.tags`): each may name the path's parameters, and `{user}`
 * where the rule knows the user.
 */
export function compileTags(
  ctx: RuleContext,
  option: string,
  value: unknown,
  path: CompiledPath,
  user: boolean,
): TagTemplate[] {
  return stringList(ctx, option, value).map((source) => {
    if (source.startsWith('#'))
      ctx.fail(option, `tags starting with "#" are reserved, got "${source}"`)
    if (source.length > TAG_MAX_LENGTH)
      ctx.fail(option, `a tag is at most ${TAG_MAX_LENGTH} characters`)
    return ctx.check(
      option,
      compileTemplate(source, { params: path.params, user, unnamed: path.unnamedWildcards > 0 }),
    )
  })
}
