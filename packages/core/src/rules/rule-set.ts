import type { CdnConfig } from '../cdn/options'
import { CachetConfigError, describeValue } from '../errors'
import { compileRule, type RuleDefaults } from './compile-rule'
import { compilePath, mayOverlap, type PatternShape, patternShape } from './path-pattern'
import { NO_PROXY, type ProxyView } from './request-view'
import type { CompiledCacheRule, CompiledRule, RuleMatch } from './types'

/** Segment counts whose candidate lists a trie node caches; deeper requests filter each time. */
const CACHED_COUNTS = 32

interface IndexedRule {
  readonly rule: CompiledRule
  readonly min: number
  readonly max: number
}

/**
 * A node of the literal-segment trie: the rules whose literal prefix ends
 * here, and (lazily, per number of segments) the ordered candidates for a
 * request that reaches this node: its rules and its ancestors', in rule order,
 * keeping only those that can match that many segments.
 */
class TrieNode {
  readonly children = new Map<string, TrieNode>()
  /** Rules of this node and its ancestors, in rule order. */
  candidates: IndexedRule[] = []
  readonly #byCount = new Map<number, CompiledRule[]>()

  forCount(slashes: number): CompiledRule[] {
    let list = this.#byCount.get(slashes)
    if (list !== undefined) return list
    list = []
    for (const c of this.candidates) if (slashes >= c.min && slashes <= c.max) list.push(c.rule)
    if (slashes <= CACHED_COUNTS) this.#byCount.set(slashes, list)
    return list
  }
}

interface MethodIndex {
  root: TrieNode
  /** Every rule of the method, in order: for request paths the trie does not handle. */
  all: CompiledRule[]
}

/** Number of '/' in a request path once one trailing slash is dropped. */
function slashCount(path: string): number {
  let n = 0
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 47) n--
  return n
}

/** How many answers of match() are kept; past it the memo starts over (bounded memory under floods of distinct paths). */
const MATCH_MEMO_SIZE = 4096
/** Longer paths are matched every time (the memo holds at most 4096 × this many characters). */
const MATCH_MEMO_PATH = 256

export class RuleSet {
  readonly rules: readonly CompiledRule[]
  #byMethod = new Map<string, MethodIndex>()
  /** Recent answers of match(), by method and path (null: no rule). */
  readonly #memo = new Map<string, RuleMatch | null>()

  constructor(
    input: unknown,
    defaults: RuleDefaults = {},
    proxy: ProxyView = NO_PROXY,
    cdn?: CdnConfig,
  ) {
    if (!Array.isArray(input)) {
      const path = (input as { path?: unknown } | null)?.path
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        typeof input === 'object' && input !== null && typeof path === 'string'
          ? `option "rules": got a single rule (path ${JSON.stringify(path)}); wrap it in an array: rules: [rule]`
          : `option "rules": expected an array of rules, got ${describeValue(input)}`,
      )
    }
    this.rules = input.map((rule, i) => compileRule(rule, i, defaults, proxy, cdn))
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

  /**
   * Per method, a trie of the rules' leading literal segments. A request walks
   * it along its own segments (lower-cased) as far as it goes; the rules that
   * can match are those of the nodes it passed, and of those only the ones
   * whose number of segments fits the request's. Both filters only drop rules
   * that cannot match, so the first match is the same as a scan of every rule.
   */
  #buildIndex(): void {
    const shapes = new Map<CompiledRule, PatternShape>()
    for (const r of this.rules) shapes.set(r, patternShape(compilePath(r.path)))
    const methods = new Set(this.rules.flatMap((r) => [...r.methods]))
    for (const method of methods) {
      const rules = this.rules.filter((r) => r.methods.has(method))
      const root = new TrieNode()
      const own = new Map<TrieNode, IndexedRule[]>()
      for (const rule of rules) {
        const shape = shapes.get(rule) as PatternShape
        let node = root
        for (const seg of shape.literal) {
          let child = node.children.get(seg)
          if (child === undefined) {
            child = new TrieNode()
            node.children.set(seg, child)
          }
          node = child
        }
        const list = own.get(node) ?? []
        list.push({ rule, min: shape.min, max: shape.max })
        own.set(node, list)
      }
      const fill = (node: TrieNode, inherited: IndexedRule[]) => {
        node.candidates = [...inherited, ...(own.get(node) ?? [])].sort(
          (a, b) => a.rule.index - b.rule.index,
        )
        for (const child of node.children.values()) fill(child, node.candidates)
      }
      fill(root, [])
      this.#byMethod.set(method, { root, all: rules })
    }
  }

  /** The first rule matching the method and path, with its decoded params. */
  match(method: string, path: string): RuleMatch | undefined {
    // Hot paths repeat: the last answers are kept (bounded; rules never change).
    if (path.length > MATCH_MEMO_PATH) return this.#match(method, path)
    const memoKey = `${method} ${path}`
    const memo = this.#memo.get(memoKey)
    if (memo !== undefined) return memo === null ? undefined : memo
    const found = this.#match(method, path)
    if (this.#memo.size >= MATCH_MEMO_SIZE) this.#memo.clear()
    this.#memo.set(memoKey, found === undefined ? null : Object.freeze(found))
    return found
  }

  #match(method: string, path: string): RuleMatch | undefined {
    const index = this.#byMethod.get(method)
    if (index === undefined) return undefined
    let candidates: readonly CompiledRule[]
    if (path.charCodeAt(0) !== 47 || path.includes('//')) {
      // Not a plain path: every rule of the method, in order.
      candidates = index.all
    } else {
      let node = index.root
      let start = 1
      while (node.children.size > 0 && start < path.length) {
        let end = path.indexOf('/', start)
        if (end === -1) end = path.length
        const child = node.children.get(path.slice(start, end).toLowerCase())
        if (child === undefined) break
        node = child
        start = end + 1
      }
      candidates = node.forCount(slashCount(path))
    }
    for (const rule of candidates) {
      const params = rule.match(path)
      if (params !== undefined) return { rule, params: Object.freeze(params) }
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
