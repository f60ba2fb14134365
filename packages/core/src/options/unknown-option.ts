/**
 * Unknown option names, reported with the option most likely meant: the
 * known name closest by edit distance (case-insensitive; a swap of two
 * neighbouring letters counts as one edit), when it is close enough.
 */

/** Optimal string alignment distance between `a` and `b`. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = []
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i]
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j)
        continue
      }
      const above = rows[i - 1] as number[]
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      )
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1)
      }
      row.push(d)
    }
    rows.push(row)
  }
  return (rows[a.length] as number[])[b.length] as number
}

/**
 * The known name `name` most likely stands for: at most one edit away for
 * short names, a third of the name's length for longer ones; `undefined`
 * when none is that close.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    const d = editDistance(wanted, candidate.toLowerCase())
    const limit = Math.max(1, Math.floor(Math.min(wanted.length, candidate.length) / 3))
    if (d <= limit && d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/**
 * `unknown option "tll" (did you mean "ttl"?)`, or the list of known options
 * when none is close. `prefix` is the options' path (`store.`, `key.`).
 */
export function unknownOption(name: string, known: Iterable<string>, prefix = ''): string {
  const list = [...known]
  const meant = closestName(name, list)
  return meant === undefined
    ? `unknown option "${prefix}${name}" (expected one of ${list.join(', ')})`
    : `unknown option "${prefix}${name}" (did you mean "${prefix}${meant}"?)`
}
