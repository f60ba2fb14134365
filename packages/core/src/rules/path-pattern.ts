import { match as compileMatch, parse, type Token } from 'path-to-regexp'

/**
 * Path patterns use path-to-regexp 8, the same syntax as Express 5's router:
 * `:name` one segment, `*name` the rest, `{...}` optional. A bare `*` (as in
 * `/products/*`) is accepted as an unnamed wildcard. Matching is
 * case-insensitive and allows a trailing slash, as Express does.
 */
export interface CompiledPath {
  /** Named parameters and wildcards (a bare `*` is not one). */
  readonly params: ReadonlySet<string>
  /** How many bare `*` the pattern has. */
  readonly unnamedWildcards: number
  /** The first segment when it is literal text (lower-cased), else null. */
  readonly firstSegment: string | null
  readonly match: (path: string) => Record<string, string> | undefined
  readonly tokens: readonly Token[]
}

/** A `*` with no name (and not escaped): Express 4 style, given a name here. */
const BARE_STAR = /(?<!\\)\*(?![A-Za-z_$])/g

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

function collectParams(tokens: readonly Token[], into: Set<string>): void {
  for (const t of tokens) {
    // An unnamed wildcard's internal name is no parameter a tag may use.
    if (t.type === 'param' || t.type === 'wildcard') {
      if (!t.name.startsWith(UNNAMED)) into.add(t.name)
    } else if (t.type === 'group') collectParams(t.tokens, into)
  }
}

function leadingSegment(tokens: readonly Token[]): string | null {
  let prefix = ''
  let i = 0
  while (i < tokens.length && tokens[i]?.type === 'text') {
    prefix += (tokens[i] as { value: string }).value
    i++
  }
  if (!prefix.startsWith('/')) return null
  const end = prefix.indexOf('/', 1)
  if (end !== -1) return prefix.slice(1, end).toLowerCase()
  return i === tokens.length ? prefix.slice(1).toLowerCase() : null
}

/** The prefix of the names given to unnamed wildcards; never shown to the user. */
const UNNAMED = '__wildcard'

/**
 * The pattern with each bare `*` named, and where each bare `*` was in the
 * pattern as written (to map path-to-regexp's indexes back to it).
 */
function nameBareStars(pattern: string): { source: string; stars: number[] } {
  const stars: number[] = []
  const source = pattern.replace(BARE_STAR, (_, offset: number) => {
    stars.push(offset)
    return `*${UNNAMED}${stars.length - 1}`
  })
  return { source, stars }
}

/** An index into the rewritten source, as an index into the pattern as written. */
function originalIndex(index: number, stars: readonly number[]): number {
  let shift = 0
  for (let k = 0; k < stars.length; k++) {
    const star = (stars[k] as number) + shift
    const length = UNNAMED.length + String(k).length
    if (index <= star) break
    if (index <= star + length) return stars[k] as number
    shift += length
  }
  return index - shift
}

const NAME = '[A-Za-z_$][\\w$]*'

/**
 * Express 4 (path-to-regexp 0.x / 6) habits and what Express 5 writes
 * instead: each entry tests the pattern as written and rewrites it.
 */
const HINTS: ReadonlyArray<readonly [RegExp, (pattern: string) => string]> = [
  [
    new RegExp(`\\*(${NAME})?\\?`),
    (p) =>
      `an optional wildcard is written in braces: "${p.replace(
        new RegExp(`(\\/?)\\*(${NAME})?\\?`, 'g'),
        (_, slash: string, name?: string) => `{${slash}*${name ?? 'rest'}}`,
      )}"`,
  ],
  [
    new RegExp(`:${NAME}\\?`),
    (p) =>
      `an optional parameter is written in braces: "${p.replace(new RegExp(`(\\/?):(${NAME})\\?`, 'g'), '{$1:$2}')}"`,
  ],
  [
    new RegExp(`:${NAME}\\+`),
    (p) =>
      `one or more segments are a named wildcard: "${p.replace(new RegExp(`:(${NAME})\\+`, 'g'), '*$1')}"`,
  ],
  [
    new RegExp(`:${NAME}\\*`),
    (p) =>
      `zero or more segments are an optional named wildcard: "${p.replace(new RegExp(`(\\/?):(${NAME})\\*`, 'g'), '{$1*$2}')}"`,
  ],
  [
    /\((?:\.\*|\.\+)\)/,
    (p) =>
      `regular expressions are not path syntax, a named wildcard matches the rest: "${p.replace(
        new RegExp(`(?::(${NAME}))?\\((?:\\.\\*|\\.\\+)\\)`, 'g'),
        (_, name?: string) => `*${name ?? 'rest'}`,
      )}"`,
  ],
  [
    new RegExp(`:${NAME}\\(`),
    (p) =>
      `regular expressions are not path syntax: "${p.replace(new RegExp(`(:${NAME})\\([^)]*\\)`, 'g'), '$1')}" (check the value in the route)`,
  ],
  [/\*{2,}/, (p) => `use one wildcard: "${p.replace(/\*{2,}/g, '*rest')}"`],
]

/** path-to-regexp's message, in the terms of the pattern as written. */
function translate(pattern: string, text: string, stars: readonly number[]): string {
  const at = (i: string | undefined) => originalIndex(Number(i), stars)
  const end = /^Unexpected end at index (\d+), expected (.+)$/.exec(text)
  if (end) return `unexpected end at index ${at(end[1])}, expected "${end[2]}"`
  const unexpected = /^Unexpected (.) at index (\d+)$/.exec(text)
  if (unexpected) return `unexpected "${unexpected[1]}" at index ${at(unexpected[2])}`
  const before = /^Missing text before "(.*)" (param|wildcard)$/.exec(text)
  if (before) {
    const [, name = '', type] = before
    const unnamed = name.startsWith(UNNAMED) ? stars[Number(name.slice(UNNAMED.length))] : undefined
    const index = unnamed ?? pattern.indexOf(`${type === 'param' ? ':' : '*'}${name}`)
    return `a ${type === 'param' ? 'parameter' : 'wildcard'} needs text before it at index ${index}`
  }
  const rest = text
    .replace(/ at index (\d+)/, (_, i: string) => ` at index ${at(i)}`)
    .replace(new RegExp(`${UNNAMED}\\d+`, 'g'), '*')
  return rest.charAt(0).toLowerCase() + rest.slice(1)
}

/** What path-to-regexp said, in the terms of the pattern as written, with a hint. */
function patternProblem(pattern: string, source: string, stars: number[], err: Error): string {
  let text = err.message.replace(/; visit https:\/\/git\.new\/\S+ for info$/, '')
  if (text.endsWith(`: ${source}`)) text = text.slice(0, -source.length - 2)
  const problem = translate(pattern, text, stars)
  for (const [test, hint] of HINTS) if (test.test(pattern)) return `${problem}; ${hint(pattern)}`
  if (problem.startsWith('missing parameter name'))
    return `${problem}; a parameter is ":name", a wildcard "*name"`
  if (problem.startsWith('unexpected "?"'))
    return `${problem}; "?" is not path syntax: "{...}" makes a part optional, "\\?" is a literal "?"`
  if (/^unexpected "[()]"/.test(problem))
    return `${problem}; regular expressions are not path syntax: use a parameter ":name" and check the value in the route`
  const reserved = /^unexpected "([[\]+!])"/.exec(problem)
  if (reserved)
    return `${problem}; "${reserved[1]}" is reserved: "\\${reserved[1]}" is the literal character`
  return problem
}

/**
 * Compiles a pattern, or throws an error saying what is wrong with it in the
 * terms of the pattern as written, with the Express 5 form where one applies
 * (the caller names the rule).
 */
export function compilePath(pattern: string): CompiledPath {
  const { source, stars } = nameBareStars(pattern)
  let data: ReturnType<typeof parse>
  let matcher: ReturnType<typeof compileMatch<Record<string, string | string[]>>>
  try {
    data = parse(source)
    matcher = compileMatch<Record<string, string | string[]>>(data, { decode: safeDecode })
  } catch (err) {
    throw new Error(patternProblem(pattern, source, stars, err as Error))
  }
  const params = new Set<string>()
  collectParams(data.tokens, params)
  return {
    params,
    unnamedWildcards: stars.length,
    firstSegment: leadingSegment(data.tokens),
    tokens: data.tokens,
    match(path) {
      const m = matcher(path)
      if (!m) return undefined
      const out: Record<string, string> = {}
      for (const name in m.params) {
        const v = m.params[name]
        if (v !== undefined) out[name] = Array.isArray(v) ? v.join('/') : v
      }
      return out
    },
  }
}

/**
 * What the rule index knows of a pattern: the literal segments every path it
 * matches starts with (lower-cased, ASCII only: a pattern's literal text
 * matches case-insensitively in ASCII only), and the range of the number of
 * `/` in the paths it matches once one trailing slash is dropped (`max` is
 * `Infinity` with a wildcard).
 */
export interface PatternShape {
  readonly literal: readonly string[]
  readonly min: number
  readonly max: number
}

const ASCII = /^[\x20-\x7e]*$/

function slashRange(tokens: readonly Token[]): [number, number] {
  let min = 0
  let max = 0
  for (const t of tokens) {
    if (t.type === 'text') {
      let n = 0
      for (let i = 0; i < t.value.length; i++) if (t.value.charCodeAt(i) === 47) n++
      min += n
      max += n
    } else if (t.type === 'wildcard') max = Number.POSITIVE_INFINITY
    else if (t.type === 'group') max += slashRange(t.tokens)[1]
  }
  return [min, max]
}

export function patternShape(compiled: CompiledPath): PatternShape {
  const tokens = compiled.tokens
  let text = ''
  let i = 0
  while (i < tokens.length && tokens[i]?.type === 'text') {
    text += (tokens[i] as { value: string }).value
    i++
  }
  const literal: string[] = []
  const pieces = text.split('/')
  // pieces[0] is what precedes the first '/': a pattern starts with '/'.
  for (let j = 1; j < pieces.length; j++) {
    const piece = pieces[j] as string
    // A piece is a whole segment when a '/' follows it, or when the pattern
    // is all text and it is the last one.
    const whole = j < pieces.length - 1 || i === tokens.length
    if (!whole || piece === '' || !ASCII.test(piece)) break
    literal.push(piece.toLowerCase())
  }
  if (pieces[0] !== '') literal.length = 0
  const [min, max] = slashRange(tokens)
  // A matched path that ends with '/' loses it before counting: a pattern
  // that can end with '/' (its last text does, or a last group or wildcard
  // may; a parameter never matches an empty or '/'-holding value) also
  // matches paths with one '/' fewer.
  const last = tokens[tokens.length - 1]
  const canEndWithSlash =
    last === undefined || (last.type === 'text' ? last.value.endsWith('/') : last.type !== 'param')
  return { literal, min: canEndWithSlash ? Math.max(0, min - 1) : min, max }
}

type Segment = { text: string } | { param: true }

function simpleSegments(tokens: readonly Token[]): Segment[] | null {
  const segments: Segment[] = []
  let current: Segment | null = null
  for (const t of tokens) {
    if (t.type === 'group' || t.type === 'wildcard') return null
    if (t.type === 'text') {
      const pieces = t.value.split('/')
      for (let i = 0; i < pieces.length; i++) {
        const piece = pieces[i] as string
        if (i > 0) {
          if (current) segments.push(current)
          current = { text: '' }
        }
        if (piece === '') continue
        if (!current || 'param' in current) return null
        current.text += piece.toLowerCase()
      }
    } else {
      if (!current || !('text' in current) || current.text !== '') return null
      current = { param: true }
    }
  }
  if (current) segments.push(current)
  // A trailing slash is optional when matching: `/a/` and `/a` are one path.
  const last = segments[segments.length - 1]
  if (segments.length > 1 && last !== undefined && 'text' in last && last.text === '')
    segments.pop()
  return segments
}

/**
 * Whether some request path may match both patterns. Exact for patterns made
 * of whole literal or whole parameter segments; `true` (may overlap) otherwise.
 */
export function mayOverlap(a: CompiledPath, b: CompiledPath): boolean {
  const sa = simpleSegments(a.tokens)
  const sb = simpleSegments(b.tokens)
  if (!sa || !sb) return true
  if (sa.length !== sb.length) return false
  return sa.every((s, i) => {
    const t = sb[i] as Segment
    return 'param' in s || 'param' in t || s.text === t.text
  })
}
