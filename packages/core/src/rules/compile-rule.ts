import { CachetConfigError, describeValue } from '../errors'
import { cacheControlDirectives } from '../http/cache-control'
import { parseDuration, parseSize } from '../options/units'
import { unknownOption } from '../options/unknown-option'
import { type CompiledPath, compilePath } from './path-pattern'
import { NO_PROXY, type ProxyView, viewHeaders } from './request-view'
import { compileTemplate, type TagTemplate } from './template'
import type {
  CacheRule,
  ClientCacheControl,
  CompiledKeySpec,
  CompiledRule,
  InvalidationFailureMode,
  InvalidationSpec,
} from './types'

/**
 * The rule options `defaults` may set for every cache rule: a rule's own
 * value wins (`key` merges field by field); write rules take none of them.
 */
export const DEFAULT_OPTIONS = [
  'ttl',
  'maxTtl',
  'staleWhileRevalidate',
  'staleIfError',
  'statuses',
  'maxBodySize',
  'key',
  'allowCredentials',
  'passHeaders',
  'ignoreCookies',
  'compress',
  'cacheControl',
] as const satisfies readonly (keyof CacheRule)[]

/** Defaults for every cache rule (`CacheOptions.defaults`). */
export type RuleDefaults = Pick<CacheRule, (typeof DEFAULT_OPTIONS)[number]>

/**
 * Cookies that never change a response, ignored by default (`ignoreCookies`):
 * analytics and advertising cookies a page's scripts set and read, which the
 * server never uses. A trailing `*` is a prefix. Google Analytics (`_ga`,
 * `_ga_<id>`, `_gid`, `_gat`, `_gat_<id>`, and the older `__utm*`), Google
 * Ads (`_gcl_*`), Meta (`_fbp`, `_fbc`), Hotjar (`_hj*`), Microsoft Clarity
 * (`_clck`, `_clsk`) and Bing UET (`_uetsid`, `_uetvid`), HubSpot (`__hstc`,
 * `__hssc`, `__hssrc`, `hubspotutk`), Matomo (`_pk_id.*`, `_pk_ses.*`).
 */
export const defaultIgnoredCookies: readonly string[] = Object.freeze([
  '_ga',
  '_ga_*',
  '_gid',
  '_gat',
  '_gat_*',
  '__utm*',
  '_gcl_*',
  '_fbp',
  '_fbc',
  '_hj*',
  '_clck',
  '_clsk',
  '_uetsid',
  '_uetvid',
  '__hstc',
  '__hssc',
  '__hssrc',
  'hubspotutk',
  '_pk_id.*',
  '_pk_ses.*',
])

export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024
/** With `ttl: 'origin'`, the longest freshness a response may claim. */
const DEFAULT_ORIGIN_MAX_TTL = '1d'
const CACHE_METHODS = ['GET', 'HEAD']
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE']
const KNOWN_METHODS = new Set([...CACHE_METHODS, ...WRITE_METHODS, 'OPTIONS'])
const CACHE_OPTIONS = new Set([
  'name',
  'path',
  'methods',
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'statuses',
  'maxBodySize',
  'key',
  'perUser',
  'tags',
  'allowCredentials',
  'passHeaders',
  'maxTtl',
  'compress',
  'ignoreCookies',
  'cacheControl',
])
const WRITE_OPTIONS = new Set(['name', 'path', 'methods', 'invalidates', 'onInvalidationFailure'])
/** Every option a rule may have, for an unknown option's message. */
const RULE_OPTIONS = new Set([...CACHE_OPTIONS, ...WRITE_OPTIONS])
const TAG_MAX_LENGTH = 256

/** Throws the one error shape: which rule, which option, what was expected, what was given. */
class RuleContext {
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

function stringList(ctx: RuleContext, option: string, value: unknown): string[] {
  if (!Array.isArray(value))
    ctx.fail(option, `expected an array of strings, got ${describeValue(value)}`)
  for (const v of value) {
    if (typeof v !== 'string' || v.length === 0) {
      ctx.fail(option, `expected non-empty strings, got ${describeValue(v)}`)
    }
  }
  return value as string[]
}

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

/** What is wrong with a `statuses` value, if anything (shared with `defaults.statuses`). */
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

export function statusesProblem(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    return `expected a non-empty array of status codes, got ${describeValue(value)}`
  }
  for (const s of value) {
    if (!Number.isInteger(s) || s < 200 || s > 499 || s === 206 || s === 304) {
      return `expected status codes from 200 to 499 (5xx, 206 and 304 are never stored), got ${describeValue(s)}`
    }
  }
  return undefined
}

function compileStatuses(ctx: RuleContext, value: unknown): Set<number> {
  const problem = statusesProblem(value)
  if (problem !== undefined) ctx.fail('statuses', problem)
  return new Set(value as number[])
}

function compileKey(ctx: RuleContext, value: unknown): CompiledKeySpec {
  if (value === undefined) return { query: 'all', headers: [] }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.fail('key', `expected an object { query?, headers? }, got ${describeValue(value)}`)
  }
  const { query = 'all', headers = [], ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) ctx.unknown(unknown, ['query', 'headers'], 'key.')
  let q: CompiledKeySpec['query']
  if (query === 'all' || query === 'none') q = query
  else if (Array.isArray(query)) q = [...new Set(stringList(ctx, 'key.query', query))].sort()
  else
    ctx.fail(
      'key.query',
      `expected 'all', 'none' or an array of names, got ${describeValue(query)}`,
    )
  return { query: q, headers: headerNames(ctx, 'key.headers', headers) }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Header names, lower-cased, deduplicated and sorted; each must be an HTTP token. */
function headerNames(ctx: RuleContext, option: string, value: unknown): string[] {
  const names = stringList(ctx, option, value)
  for (const n of names) {
    if (!TOKEN.test(n)) ctx.fail(option, `${describeValue(n)} is not a header name`)
  }
  return [...new Set(names.map((n) => n.toLowerCase()))].sort()
}

function compileTags(
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
  const { tags = [], patterns = [], user = false, ...rest } = spec
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) ctx.unknown(unknown, ['tags', 'patterns', 'user'], 'invalidates.')
  if (typeof user !== 'boolean')
    ctx.fail('invalidates.user', `expected a boolean, got ${describeValue(user)}`)
  const compiled = {
    // The writer's own user id is known to a write rule through `identify`.
    tags: compileTags(ctx, 'invalidates.tags', tags, path, true),
    patterns: stringList(ctx, 'invalidates.patterns', patterns).map((p) => {
      checkPattern(ctx, 'invalidates.patterns', p)
      return p
    }),
    user,
  }
  if (compiled.tags.length + compiled.patterns.length === 0 && !user) {
    ctx.fail('invalidates', 'expected at least one tag, pattern or user: true')
  }
  return compiled
}

function checkPattern(ctx: RuleContext, option: string, pattern: string): CompiledPath {
  if (!pattern.startsWith('/'))
    ctx.fail(option, `expected a path starting with "/", got "${pattern}"`)
  try {
    return compilePath(pattern)
  } catch (err) {
    return ctx.fail(option, `invalid path pattern "${pattern}": ${(err as Error).message}`)
  }
}

function checkBoolean(ctx: RuleContext, option: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean')
    ctx.fail(option, `expected true or false, got ${describeValue(value)}`)
  return value
}

/** A stale window: a duration of 0 or more (parseDuration refuses negatives), 0 when absent. */
function staleWindow(ctx: RuleContext, option: string, value: unknown): number {
  return value === undefined ? 0 : ctx.check(option, parseDuration(value))
}

/** Response directives `cacheControl` may send (RFC 9111 §5.2.2, RFC 5861, RFC 8246). */
const CLIENT_DIRECTIVES: Record<string, 'flag' | 'seconds' | 'fields'> = {
  public: 'flag',
  private: 'fields',
  'no-cache': 'fields',
  'no-store': 'flag',
  'no-transform': 'flag',
  'max-age': 'seconds',
  's-maxage': 'seconds',
  'must-revalidate': 'flag',
  'proxy-revalidate': 'flag',
  'must-understand': 'flag',
  'stale-while-revalidate': 'seconds',
  'stale-if-error': 'seconds',
  immutable: 'flag',
}

/** The fields of `ClientCacheControl`, in the order their directives are written. */
const CLIENT_FIELDS: ReadonlyArray<[keyof ClientCacheControl, string, 'flag' | 'seconds']> = [
  ['public', 'public', 'flag'],
  ['private', 'private', 'flag'],
  ['noCache', 'no-cache', 'flag'],
  ['noStore', 'no-store', 'flag'],
  ['maxAge', 'max-age', 'seconds'],
  ['sMaxAge', 's-maxage', 'seconds'],
  ['mustRevalidate', 'must-revalidate', 'flag'],
  ['staleWhileRevalidate', 'stale-while-revalidate', 'seconds'],
  ['staleIfError', 'stale-if-error', 'seconds'],
  ['immutable', 'immutable', 'flag'],
]

const TOKEN_SOURCE = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
const DIRECTIVE_SOURCE = `${TOKEN_SOURCE}(?:=(?:${TOKEN_SOURCE}|"(?:[^"\\\\\\x00-\\x1f\\x7f]|\\\\[^\\x00-\\x1f\\x7f])*"))?`
/** A Cache-Control field value: directives separated by commas (RFC 9110 §5.6.1), no empty ones. */
const CACHE_CONTROL_VALUE = new RegExp(
  `^${DIRECTIVE_SOURCE}(?:[ \\t]*,[ \\t]*${DIRECTIVE_SOURCE})*$`,
)

/**
 * `cacheControl`: a header value (checked: the syntax, known directives,
 * their values) or directives as an object (written in a fixed order), as
 * the one value the responses send. Not with `ttl: 'origin'` (the origin's
 * header drives storage and goes on to clients); a per-user rule's must
 * keep shared caches out (`private` or `no-store`).
 */
function compileCacheControl(
  ctx: RuleContext,
  value: unknown,
  origin: boolean,
  perUser: boolean,
): string {
  if (origin) {
    ctx.fail(
      'cacheControl',
      "a rule with ttl: 'origin' sends the origin's Cache-Control: it decides what this cache stores, and what the clients after it keep",
    )
  }
  let text: string
  if (typeof value === 'string') text = value.trim()
  else if (isPlainObject(value)) text = cacheControlText(ctx, value)
  else {
    ctx.fail(
      'cacheControl',
      `expected a Cache-Control value ('public, max-age=60') or { maxAge, sMaxAge?, public?, private?, … }, got ${describeValue(value)}`,
    )
  }
  if (text === '') ctx.fail('cacheControl', 'expected at least one directive, got an empty string')
  if (!CACHE_CONTROL_VALUE.test(text)) {
    ctx.fail(
      'cacheControl',
      `not a Cache-Control value (directives such as max-age=60, separated by commas), got ${describeValue(value)}`,
    )
  }
  const directives = cacheControlDirectives(text)
  for (const [name, v] of directives) {
    const kind = CLIENT_DIRECTIVES[name]
    const given = v === true ? name : `${name}=${v}`
    if (kind === undefined) {
      ctx.fail(
        'cacheControl',
        `unknown directive ${describeValue(name)} (expected ${Object.keys(CLIENT_DIRECTIVES).join(', ')})`,
      )
    }
    if (kind === 'seconds' && (v === true || !/^\d+$/.test(v)))
      ctx.fail(
        'cacheControl',
        `"${name}" takes whole seconds (${name}=60), got ${describeValue(given)}`,
      )
    if (kind === 'flag' && v !== true)
      ctx.fail('cacheControl', `"${name}" takes no value, got ${describeValue(given)}`)
  }
  const names = new Set(directives.map(([name]) => name))
  if (names.has('public') && names.has('private'))
    ctx.fail('cacheControl', `both public and private, got ${describeValue(text)}`)
  const unqualifiedPrivate = directives.some(([name, v]) => name === 'private' && v === true)
  if (perUser && (names.has('public') || !(unqualifiedPrivate || names.has('no-store')))) {
    ctx.fail(
      'cacheControl',
      `a per-user rule's responses are one user's: a shared cache after this one must not keep them, so say private or no-store, got ${describeValue(text)}`,
    )
  }
  return text
}

/** The object form of `cacheControl` as a header value. */
function cacheControlText(ctx: RuleContext, value: Record<string, unknown>): string {
  const known = CLIENT_FIELDS.map(([field]) => field as string)
  for (const field of Object.keys(value)) {
    if (!known.includes(field)) ctx.unknown(field, known, 'cacheControl.')
  }
  const parts: string[] = []
  const set = (field: keyof ClientCacheControl) =>
    value[field] !== undefined && value[field] !== false
  for (const [field, directive, kind] of CLIENT_FIELDS) {
    const option = `cacheControl.${field}`
    const v = value[field]
    if (kind === 'flag') {
      if (checkBoolean(ctx, option, v)) parts.push(directive)
      continue
    }
    if (v === undefined) continue
    const ms = ctx.check(option, parseDuration(v))
    if (ms % 1000 !== 0)
      ctx.fail(option, `Cache-Control counts whole seconds, got ${describeValue(v)}`)
    parts.push(`${directive}=${ms / 1000}`)
  }
  if (!set('maxAge') && !set('sMaxAge') && !set('noCache') && !set('noStore')) {
    ctx.fail(
      'cacheControl',
      `expected maxAge, sMaxAge, noCache or noStore (how long clients may keep the response), got ${describeValue(value)}`,
    )
  }
  if (set('public') && set('private'))
    ctx.fail('cacheControl', 'both public and private: a response is one or the other')
  if (set('noStore')) {
    const lifetime = (
      ['maxAge', 'sMaxAge', 'staleWhileRevalidate', 'staleIfError', 'immutable'] as const
    ).filter(set)
    if (lifetime.length > 0)
      ctx.fail(
        'cacheControl.noStore',
        `a no-store response is kept nowhere: leave out ${lifetime.join(', ')}`,
      )
  }
  if (set('private') && set('sMaxAge'))
    ctx.fail(
      'cacheControl.sMaxAge',
      's-maxage is for shared caches, which a private response never reaches',
    )
  return parts.join(', ')
}

/** Validates and compiles one rule; throws a `CachetConfigError` naming the rule and option. */
/** Whether `text` holds a control character (U+0000 to U+001F, U+007F): never in a rule's name. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

export function compileRule(
  input: unknown,
  index: number,
  defaults: RuleDefaults,
  proxy: ProxyView = NO_PROXY,
): CompiledRule {
  const pathLabel = (input as CacheRule | null)?.path
  const ctx = new RuleContext(index, typeof pathLabel === 'string' ? pathLabel : 'no path')
  return compileIn(ctx, input, defaults, proxy)
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
  if (value.ttl === undefined) probe.ttl = value.maxTtl === undefined ? 1 : 'origin'
  else if (value.ttl !== 'origin' && value.maxTtl !== undefined) {
    // maxTtl is for the rules that say ttl: 'origin': checked as theirs.
    compileIn(ctx, { path: '/', ttl: 'origin', maxTtl: value.maxTtl }, {}, NO_PROXY)
    delete probe.maxTtl
  }
  if (probe.ttl === 'origin' && value.cacheControl !== undefined) {
    // cacheControl is for the rules with a ttl of their own: checked as theirs.
    compileIn(ctx, { path: '/', ttl: 1, cacheControl: value.cacheControl }, {}, NO_PROXY)
    delete probe.cacheControl
  }
  compileIn(ctx, probe, {}, NO_PROXY)
  return value as RuleDefaults
}

/** A cache rule with the engine's defaults where it sets nothing of its own. */
function withDefaults(rule: CacheRule, defaults: RuleDefaults): CacheRule {
  const merged: Record<string, unknown> = {}
  for (const option of DEFAULT_OPTIONS) {
    if (defaults[option] !== undefined) merged[option] = defaults[option]
  }
  for (const [option, value] of Object.entries(rule)) {
    if (value !== undefined) merged[option] = value
  }
  // A default maxTtl is for the rules that say ttl: 'origin'.
  if (rule.maxTtl === undefined && merged.ttl !== 'origin') delete merged.maxTtl
  // A default cacheControl is for the rules with a ttl of their own: the origin's header drives the others.
  if (rule.cacheControl === undefined && merged.ttl === 'origin') delete merged.cacheControl
  const own = rule.key as unknown
  if (isPlainObject(own) && isPlainObject(defaults.key)) merged.key = { ...defaults.key, ...own }
  return merged as unknown as CacheRule
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A cookie-name matcher for `ignoreCookies`: exact names, and prefixes ending in `*`. */
function compileIgnoreCookies(ctx: RuleContext, value: unknown): (name: string) => boolean {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const name of stringList(ctx, 'ignoreCookies', value)) {
    if (name === '*') {
      ctx.fail(
        'ignoreCookies',
        'a bare "*" would ignore every cookie; for a route whose response never depends on any, use allowCredentials: true',
      )
    }
    const star = name.indexOf('*')
    if (star !== -1 && star !== name.length - 1) {
      ctx.fail(
        'ignoreCookies',
        `a "*" may come only at the end of a name (a prefix), got "${name}"`,
      )
    }
    const base = star === -1 ? name : name.slice(0, -1)
    if (!TOKEN.test(base)) ctx.fail('ignoreCookies', `${describeValue(name)} is not a cookie name`)
    if (star === -1) exact.add(name)
    else prefixes.push(base)
  }
  if (prefixes.length === 0) return (name) => exact.has(name)
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p))
}

const DEFAULT_IGNORES_COOKIE = compileIgnoreCookies(
  new RuleContext(-1, 'defaultIgnoredCookies'),
  defaultIgnoredCookies,
)

function compileIn(
  ctx: RuleContext,
  input: unknown,
  defaults: RuleDefaults,
  proxy: ProxyView,
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
  if (!caching) {
    return {
      ...base,
      kind: 'invalidate',
      invalidates: compileInvalidates(ctx, rule.invalidates, path),
      ...(rule.onInvalidationFailure === undefined
        ? {}
        : { onInvalidationFailure: checkFailureMode(ctx, rule.onInvalidationFailure) }),
    }
  }
  const perUser = checkBoolean(ctx, 'perUser', rule.perUser)
  const origin = rule.ttl === 'origin'
  if (!origin && rule.maxTtl !== undefined)
    ctx.fail('maxTtl', "only a rule with ttl: 'origin' has a maxTtl (the ttl is the lifetime)")
  const ttlMs = origin
    ? ctx.check('maxTtl', parseDuration(rule.maxTtl ?? DEFAULT_ORIGIN_MAX_TTL))
    : ctx.check('ttl', parseDuration(rule.ttl ?? defaults.ttl))
  if (ttlMs <= 0) {
    if (origin)
      ctx.fail('maxTtl', `expected more than 0 seconds, got ${describeValue(rule.maxTtl)}`)
    ctx.fail(
      'ttl',
      `expected more than 0 seconds or 'origin', got ${describeValue(rule.ttl ?? defaults.ttl)}`,
    )
  }
  const staleWhileRevalidateMs = staleWindow(ctx, 'staleWhileRevalidate', rule.staleWhileRevalidate)
  const staleIfErrorMs = staleWindow(ctx, 'staleIfError', rule.staleIfError)
  const key = compileKey(ctx, rule.key)
  const allowCredentials = checkBoolean(ctx, 'allowCredentials', rule.allowCredentials)
  const passHeaders = headerNames(ctx, 'passHeaders', rule.passHeaders ?? [])
  return {
    ...base,
    kind: 'cache',
    ttlMs,
    origin,
    staleWhileRevalidateMs,
    staleIfErrorMs,
    // Origin-driven copies may also be kept for their own RFC 5861 windows, each at most maxTtl.
    lifetimeMs: ttlMs + Math.max(staleWhileRevalidateMs, staleIfErrorMs, origin ? ttlMs : 0),
    statuses: compileStatuses(ctx, rule.statuses ?? defaults.statuses ?? [200]),
    maxBodySize: ctx.check(
      'maxBodySize',
      parseSize(rule.maxBodySize ?? defaults.maxBodySize ?? DEFAULT_MAX_BODY_SIZE),
    ),
    key,
    perUser,
    allowCredentials,
    compress: checkBoolean(ctx, 'compress', rule.compress),
    ...(rule.cacheControl === undefined
      ? {}
      : { cacheControl: compileCacheControl(ctx, rule.cacheControl, origin, perUser) }),
    passHeaders,
    viewHeaders: viewHeaders(key.headers, passHeaders, perUser || allowCredentials, proxy),
    // A header the rule keys itself is keyed once, as the rule says.
    proxyKey: proxy.keyed.filter((n) => !key.headers.includes(n)),
    ignoresCookie:
      rule.ignoreCookies === undefined
        ? DEFAULT_IGNORES_COOKIE
        : compileIgnoreCookies(ctx, rule.ignoreCookies),
    tags: compileTags(ctx, 'tags', rule.tags ?? [], path, perUser),
    routeTag: `#route:${name}`,
  }
}
