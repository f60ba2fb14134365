import { CachetConfigError, describeValue } from '../errors'
import { compileRule, type RuleDefaults } from './compile-rule'
import { compilePath, mayOverlap, requestFirstSegment } from './path-pattern'
import type { CompiledCacheRule, CompiledRule, RuleMatch } from './types'

interface MethodIndex {
  /** Rules to try, in order, for a request whose first segment is the map key. */
  bySegment: Map<string, CompiledRule[]>
  /** Rules to try for any other first segment (rules without a literal first segment). */
  other: CompiledRule[]
}

/**
 * The compiled rules, indexed by method and first path segment so that a
 * request no rule can match costs a map lookup. First match wins.
 */
export class RuleSet {
  readonly rules: readonly CompiledRule[]
  #byMethod = new Map<string, MethodIndex>()

  constructor(input: unknown, defaults: RuleDefaults = {}) {
    if (!Array.isArray(input)) {
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        `option "rules": expected an array of rules, got ${describeValue(input)}`,
      )
    }
    this.rules = input.map((rule, i) => compileRule(rule, i, defaults))
    const names = new Map<string, number>()
    for (const rule of this.rules) {
      const seen = names.get(rule.name)
      if (seen !== undefined) {
        throw new CachetConfigError(
          'CACHET_INVALID_RULE',
          `rules[${rule.index}] (${rule.path}): option "name": "${rule.name}" is also the name of rules[${seen}]; give each rule its own name`,
        )
      }
      names.set(rule.name, rule.index)
    }
    this.#buildIndex()
  }

  #buildIndex(): void {
    const methods = new Set(this.rules.flatMap((r) => [...r.methods]))
    for (const method of methods) {
      const rules = this.rules.filter((r) => r.methods.has(method))
      const segments = new Set<string>()
      for (const r of rules) {
        const seg = compilePath(r.path).firstSegment
        if (seg !== null) segments.add(seg)
      }
      const firstOf = (r: CompiledRule) => compilePath(r.path).firstSegment
      const bySegment = new Map<string, CompiledRule[]>()
      for (const seg of segments) {
        bySegment.set(
          seg,
          rules.filter((r) => {
            const s = firstOf(r)
            return s === null || s === seg
          }),
        )
      }
      this.#byMethod.set(method, { bySegment, other: rules.filter((r) => firstOf(r) === null) })
    }
  }

  /** The first rule matching the method and path, with its decoded params. */
  match(method: string, path: string): RuleMatch | undefined {
    const index = this.#byMethod.get(method)
    if (index === undefined) return undefined
    const candidates = index.bySegment.get(requestFirstSegment(path)) ?? index.other
    for (const rule of candidates) {
      const params = rule.match(path)
      if (params !== undefined) return { rule, params }
    }
    return undefined
  }

  /** Cache rules whose path is exactly `pattern` and that alone can hold entries for its paths. */
  exclusiveRulesFor(pattern: string): CompiledCacheRule[] {
    const cacheRules = this.rules.filter((r): r is CompiledCacheRule => r.kind === 'cache')
    const out: CompiledCacheRule[] = []
    for (const rule of cacheRules) {
      if (rule.path !== pattern) continue
      const mine = compilePath(rule.path)
      // Another rule can hold entries for paths of this pattern when it comes
      // first for some method, or comes later but takes a method this one lacks.
      const shared = cacheRules.some(
        (other) =>
          other !== rule &&
          (other.index < rule.index || [...other.methods].some((m) => !rule.methods.has(m))) &&
          mayOverlap(compilePath(other.path), mine),
      )
      if (!shared) out.push(rule)
    }
    return out
  }
}
