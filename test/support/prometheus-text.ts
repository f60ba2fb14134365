// A strict parser of the Prometheus text exposition format (version 0.0.4), for
// the tests that assert what `GET /metrics` and `@cachet/core/prometheus` say.
// Every line must be blank, a `# HELP`, a `# TYPE` or a sample of a declared
// family; anything else, or a series given twice, fails the parse.

export interface PromSample {
  /** The sample's own name (`x_bucket`, `x_sum`... for a histogram). */
  name: string
  labels: Record<string, string>
  value: number
}

export interface HistogramSeries {
  /** Cumulative counts by upper bound, in the order given, `+Inf` last. */
  buckets: Array<[le: number, count: number]>
  sum: number
  count: number
}

export interface Exposition {
  /** Family name → type (`counter`, `gauge`, `histogram`...). */
  readonly types: ReadonlyMap<string, string>
  readonly help: ReadonlyMap<string, string>
  readonly samples: readonly PromSample[]
  /** The samples named `name`. */
  series(name: string): PromSample[]
  /** The value of the one sample named `name` with exactly `labels`; throws when there is none. */
  value(name: string, labels?: Record<string, string>): number
  /** Like `value`, but `undefined` when there is no such sample. */
  find(name: string, labels?: Record<string, string>): number | undefined
  /** The histogram series of family `name` with exactly `labels` (besides `le`). */
  histogram(name: string, labels?: Record<string, string>): HistogramSeries
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`)
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`)
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  const samples: PromSample[] = []
  const seen = new Set<string>()
  for (const [i, line] of text.split('\n').entries()) {
    const where = `line ${i + 1} (${JSON.stringify(line)})`
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = COMMENT.exec(line)
      if (m === null) throw new Error(`${where}: not a HELP or TYPE comment`)
      const kind = m[1] as string
      const name = m[2] as string
      const rest = m[3] ?? ''
      const into = kind === 'HELP' ? help : types
      if (into.has(name)) throw new Error(`${where}: a second ${kind} for ${name}`)
      into.set(name, kind === 'HELP' ? unescapeText(rest) : rest)
      continue
    }
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`${where}: not a sample`)
    const name = m[1] as string
    const rawLabels = m[2] ?? ''
    const rawValue = m[3] as string
    const labels = parseLabels(rawLabels, where)
    if (familyOf(name, types) === undefined) throw new Error(`${where}: ${name} has no TYPE`)
    const id = seriesId(name, labels)
    if (seen.has(id)) throw new Error(`${where}: the series ${id} is given twice`)
    seen.add(id)
    samples.push({ name, labels, value: parseValue(rawValue, where) })
  }

  const find = (name: string, labels: Record<string, string> = {}) => {
    const id = seriesId(name, labels)
    return samples.find((s) => seriesId(s.name, s.labels) === id)?.value
  }
  return {
    types,
    help,
    samples,
    series: (name) => samples.filter((s) => s.name === name),
    find,
    value(name, labels = {}) {
      const v = find(name, labels)
      if (v === undefined) throw new Error(`no sample ${seriesId(name, labels)}`)
      return v
    },
    histogram(name, labels = {}) {
      if (types.get(name) !== 'histogram') throw new Error(`${name} is not a histogram`)
      const want = seriesId('', labels)
      const buckets = samples
        .filter((s) => s.name === `${name}_bucket`)
        .filter((s) => {
          const { le: _le, ...rest } = s.labels
          return seriesId('', rest) === want
        })
        .map((s): [number, number] => [parseValue(s.labels.le ?? 'NaN', name), s.value])
      const sum = find(`${name}_sum`, labels)
      const count = find(`${name}_count`, labels)
      if (buckets.length === 0 || sum === undefined || count === undefined)
        throw new Error(`no histogram series ${seriesId(name, labels)}`)
      return { buckets, sum, count }
    },
  }
}

/** The family a sample belongs to: its own name, or a histogram's/summary's for a suffixed name. */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name
  const m = /^(.*)_(bucket|sum|count)$/.exec(name)
  if (m === null) return undefined
  const family = m[1] as string
  const type = types.get(family)
  if (type === 'histogram' || (type === 'summary' && m[2] !== 'bucket')) return family
  return undefined
}

function parseLabels(raw: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {}
  let rest = raw
  while (rest !== '') {
    const m = LABEL.exec(rest)
    if (m === null) throw new Error(`${where}: bad labels at ${JSON.stringify(rest)}`)
    const [whole, name, value] = m as unknown as [string, string, string]
    if (Object.hasOwn(labels, name)) throw new Error(`${where}: label ${name} given twice`)
    labels[name] = unescapeText(value)
    rest = rest.slice(whole.length)
  }
  return labels
}

function parseValue(raw: string, where: string): number {
  if (raw === '+Inf') return Number.POSITIVE_INFINITY
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY
  if (raw === 'NaN') return Number.NaN
  const value = Number(raw)
  if (raw === '' || Number.isNaN(value)) throw new Error(`${where}: bad value ${raw}`)
  return value
}

function unescapeText(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
}

/** A series' identity: its name and its labels, sorted. */
function seriesId(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
  return `${name}{${pairs.join(',')}}`
}
