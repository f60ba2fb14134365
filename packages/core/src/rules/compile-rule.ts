import type { CdnConfig } from '../cdn/options'
import { describeValue } from '../errors'
import { compileCacheRule } from './compile-cache-rule'
import { compileWriteRule } from './compile-write-rule'
import { NO_PROXY, type ProxyView } from './request-view'
import { checkPattern, RuleContext, stringList } from './rule-context'
import {
  CACHE_OPTIONS,
  DEFAULT_OPTIONS,
  RULE_OPTIONS,
  type RuleDefaults,
  WRITE_OPTIONS,
  withDefaults,
} from './rule-options'
import type { CacheRule, CompiledRule } from './types'

/**
 * Compiling a rule: the options every rule has (path, methods, name), then
 * those of a cache rule (`compile-cache-rule`) or a write rule
 * (`compile-write-rule`); and checking `defaults` the same way.
 */

export { statusesProblem } from './compile-cache-rule'
export { invalidationFailureProblem } from './compile-write-rule'
export { defaultIgnoredCookies } from './request-options'
export { DEFAULT_MAX_BODY_SIZE, DEFAULT_OPTIONS, type RuleDefaults } from './rule-options'

const CACHE_METHODS = ['GET', 'HEAD']
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE']
const KNOWN_METHODS = new Set([...CACHE_METHODS, ...WRITE_METHODS, 'OPTIONS'])

function compileMethods(ctx: RuleContext, rule: CacheRule, caching: boolean): Set<string> {
  if (rule.methods === undefined) return new Set(caching ? CACHE_METHODS : WRITE_METHODS)
  const methods = stringList(ctx, 'methods', rule.methods).map((m) => m.toUpperCase())
  if (methods.length === 0) ctx.fail('methods', 'expected at least one method, got an empty array')
  for (const m of methods) {
    if (!KNOWN_METHODS.has(m)) ctx.fail('methods', `unknown method ${describeValue(m)}`)
    if (caching && !CACHE_METHODS.includes(m)) {
      ctx.fail('methods', `a cache rule (one with a ttl) caches only GET and HEAD, got ${m}`)
    }
    if (!caching && !WRITE_METHODS.includes(m)) {
      ctx.fail('methods', `a write rule invalidates after unsafe methods only, got ${m}`)
    }
  }
  return new Set(methods)
}

/** Whether `text` holds a control character (U+0000 to U+001F, U+007F): never in a rule's name. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/** Validates and compiles one rule; throws a `CachetConfigError` naming the rule and option. */
export function compileRule(
  input: unknown,
  index: number,
  defaults: RuleDefaults,
  proxy: ProxyView = NO_PROXY,
  cdn?: CdnConfig,
): CompiledRule {
  const pathLabel = (input as CacheRule | null)?.path
  const ctx = new RuleContext(index, typeof pathLabel === 'string' ? pathLabel : 'no path')
  return compileIn(ctx, input, defaults, proxy, cdn)
}

/**
 * Validates `defaults` as rule options are validated (the same checks and
 * messages, naming `defaults.<option>`), before any rule is compiled.
 */
export function checkDefaults(value: Record<string, unknown>): RuleDefaults {
  const ctx = new RuleContext(-1, 'defaults', true)
  const allowed: readonly string[] = DEFAULT_OPTIONS
  for (const option of Object.keys(value)) {
    if (allowed.includes(option)) continue
    if (!CACHE_OPTIONS.has(option) && !WRITE_OPTIONS.has(option)) ctx.unknown(option, allowed)
    const expected = `expected one of ${allowed.join(', ')}`
    ctx.fail(
      option,
      CACHE_OPTIONS.has(option) || WRITE_OPTIONS.has(option)
        ? `an option of each rule, not a default (${expected})`
        : `unknown option (${expected})`,
    )
  }
  const probe: Record<string, unknown> = { ...value, path: '/' }
  const originOnly = value.maxTtl !== undefined || value.targeted !== undefined
  if (value.ttl === undefined) probe.ttl = originOnly ? 'origin' : 1
  else if (value.ttl !== 'origin' && originOnly) {
    // maxTtl and targeted are for the rules that say ttl: 'origin': checked as theirs.
    const { maxTtl, targeted } = value
    compileIn(ctx, { path: '/', ttl: 'origin', maxTtl, targeted }, {}, NO_PROXY)
    delete probe.maxTtl
    delete probe.targeted
  }
  if (probe.ttl === 'origin' && value.cacheControl !== undefined) {
    // cacheControl is for the rules with a ttl of their own: checked as theirs.
    compileIn(ctx, { path: '/', ttl: 1, cacheControl: value.cacheControl }, {}, NO_PROXY)
    delete probe.cacheControl
  }
  compileIn(ctx, probe, {}, NO_PROXY)
  return value as RuleDefaults
}

/** One rule, checked in `ctx` (a rule's, or `defaults`'): the shared options, then its kind's. */
function compileIn(
  ctx: RuleContext,
  input: unknown,
  defaults: RuleDefaults,
  proxy: ProxyView,
  cdn?: CdnConfig,
): CompiledRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    ctx.fail('rule', `expected a rule object, got ${describeValue(input)}`)
  }
  const index = ctx.index
  let rule = input as CacheRule
  // A typo first: `tll` is the mistake, not the missing ttl it leads to.
  for (const option of Object.keys(rule)) {
    if (!CACHE_OPTIONS.has(option) && !WRITE_OPTIONS.has(option)) ctx.unknown(option, RULE_OPTIONS)
  }
  if (typeof rule.path !== 'string')
    ctx.fail('path', `expected a string, got ${describeValue(rule.path)}`)
  const caching = rule.invalidates === undefined
  if (caching && rule.ttl === undefined && defaults.ttl === undefined) {
    ctx.fail('ttl', 'a rule needs a ttl (to cache) or invalidates (to invalidate after writes)')
  }
  if (!caching && rule.ttl !== undefined) {
    ctx.fail(
      'invalidates',
      'a rule either caches (ttl) or invalidates after writes; split it into two rules',
    )
  }
  const allowed = caching ? CACHE_OPTIONS : WRITE_OPTIONS
  for (const option of Object.keys(rule)) {
    if (!allowed.has(option)) {
      const expected = `expected one of ${[...allowed].join(', ')}`
      ctx.fail(option, `not an option of a ${caching ? 'cache' : 'write'} rule (${expected})`)
    }
  }
  if (caching) rule = withDefaults(rule, defaults)
  const path = checkPattern(ctx, 'path', rule.path)
  const methods = compileMethods(ctx, rule, caching)
  const name = rule.name ?? `${[...methods].join(',')} ${rule.path}`
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 128 ||
    hasControlCharacter(name)
  ) {
    ctx.fail(
      'name',
      `expected a string of 1 to 128 characters without control characters, got ${describeValue(name)}`,
    )
  }
  const base = { index, name, path: rule.path, methods, match: path.match }
  return caching
    ? compileCacheRule(ctx, rule, defaults, proxy, base, path, cdn)
    : compileWriteRule(ctx, rule, base, path)
}
