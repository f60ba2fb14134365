/**
 * Tag templates: `product:{params.id}`, `lang:{query.lang}`, `user:{user}`.
 * Compiled once per rule; rendering is a join of precomputed parts.
 */
export interface TemplateVars {
  params: Record<string, string>
  query?: URLSearchParams
  user?: string
}

export interface TagTemplate {
  readonly source: string
  readonly render: (vars: TemplateVars) => string
}

type Part = string | { from: 'params' | 'query'; name: string } | { from: 'user' }

const VARIABLE = /^(params|query)\.([A-Za-z_$][\w$]*)$|^user$/

/** What a template may refer to; anything else is a start-up error. */
export interface TemplateScope {
  params: ReadonlySet<string>
  user: boolean
  /** The path has a bare `*`, which a tag cannot name. */
  unnamed?: boolean
}

/** Compiles a template or returns an error message saying what is wrong with it. */
export function compileTemplate(source: string, scope: TemplateScope): TagTemplate | string {
  const parts: Part[] = []
  let rest = source
  while (rest.length > 0) {
    const open = rest.indexOf('{')
    const close = rest.indexOf('}')
    if (open === -1 && close === -1) {
      parts.push(rest)
      break
    }
    if (close !== -1 && (open === -1 || close < open)) return `a "}" without its "{" in "${source}"`
    if (open > 0) parts.push(rest.slice(0, open))
    const end = rest.indexOf('}', open)
    if (end === -1) return `an unclosed "{" in "${source}"`
    const name = rest.slice(open + 1, end).trim()
    const m = VARIABLE.exec(name)
    if (!m)
      return `unknown variable {${name}} in "${source}" (expected {params.<name>}, {query.<name>} or {user})`
    if (m[1] === 'params') {
      const param = m[2] as string
      if (!scope.params.has(param)) {
        const known = [...scope.params].join(', ') || 'none'
        const hint = scope.unnamed ? `; name a wildcard to use it: "*${param}"` : ''
        return `{params.${param}} in "${source}" names a parameter the path lacks (it has: ${known}${hint})`
      }
      parts.push({ from: 'params', name: param })
    } else if (m[1] === 'query') {
      parts.push({ from: 'query', name: m[2] as string })
    } else {
      if (!scope.user) return `{user} in "${source}" needs a per-user rule (perUser: true)`
      parts.push({ from: 'user' })
    }
    rest = rest.slice(end + 1)
  }
  if (parts.every((p) => typeof p === 'string')) {
    const constant = parts.join('')
    return { source, render: () => constant }
  }
  return {
    source,
    render: (vars) => {
      let out = ''
      for (const p of parts) {
        if (typeof p === 'string') out += p
        else if (p.from === 'params') out += vars.params[p.name] ?? ''
        else if (p.from === 'query') out += vars.query?.get(p.name) ?? ''
        else out += vars.user ?? ''
      }
      // Request input must not forge a reserved implicit tag (`#user:…`).
      return out.startsWith('#') ? `%23${out.slice(1)}` : out
    },
  }
}
