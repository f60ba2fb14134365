import { match as compileMatch, parse, type Token } from 'path-to-regexp'

/**
 * Path patterns use path-to-regexp 8, the same syntax as Express 5's router:
 * `:name` one segment, `*name` the rest, `{...}` optional. A bare `*` (as in
 * `/products/*`) is accepted as an unnamed wildcard. Matching is
 * case-insensitive and allows a trailing slash, as Express does.
 */
export interface CompiledPath {
  readonly params: ReadonlySet<string>
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
    if (t.type === 'param' || t.type === 'wildcard') into.add(t.name)
    else if (t.type === 'group') collectParams(t.tokens, into)
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

/** Compiles a pattern, or throws path-to-regexp's error (the caller names the rule). */
export function compilePath(pattern: string): CompiledPath {
  let unnamed = 0
  const source = pattern.replace(BARE_STAR, () => `*__wildcard${unnamed++}`)
  const data = parse(source)
  const params = new Set<string>()
  collectParams(data.tokens, params)
  const matcher = compileMatch<Record<string, string | string[]>>(data, { decode: safeDecode })
  return {
    params,
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
