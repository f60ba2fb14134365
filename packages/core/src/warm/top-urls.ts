import type { CompiledCacheRule } from '../rules/types'

/** One tracked URL: the path and query as first requested for its key, and its count. */
export interface TopUrl {
  readonly url: string
  /** The cache rule's name. */
  readonly rule: string
  /** Requests counted (an upper bound: see `TopUrls`). */
  readonly count: number
}

interface Counter {
  readonly url: string
  count: number
  /** The floor it was inserted at: how much `count` may overestimate. */
  readonly error: number
}

/** Most requested first; of equal counts, the better known (smaller overestimate) first. */
const byCount = (a: Counter, b: Counter) => b.count - a.count || a.error - b.error

/**
 * The most requested keys of one rule: a Space-Saving summary with lazy
 * eviction. A known key costs one `Map` lookup and an increment; a new one
 * (admitted only on a memory miss, so that a hit never inserts) is inserted
 * at the floor (the highest count evicted so far) plus one, so a count
 * overestimates by at most the floor it started from. The table holds up to
 * twice its capacity; when full, the lower half is dropped in one sort
 * (amortised O(log capacity) per new key, never per known one).
 */
class RuleTop {
  readonly name: string
  readonly #capacity: number
  readonly #counts = new Map<string, Counter>()
  #floor = 0

  constructor(name: string, capacity: number) {
    this.name = name
    this.#capacity = capacity
  }

  record(key: string, path: string, rawQuery: string, admit: boolean): void {
    const c = this.#counts.get(key)
    if (c !== undefined) {
      c.count++
      return
    }
    if (!admit) return
    if (this.#counts.size >= 2 * this.#capacity) this.#compact()
    const url = rawQuery === '' ? path : `${path}?${rawQuery}`
    this.#counts.set(key, { url, count: this.#floor + 1, error: this.#floor })
  }

  /** Merges a count read back from elsewhere (the shared tier): the higher one stays. */
  seed(key: string, url: string, count: number): void {
    const c = this.#counts.get(key)
    if (c !== undefined) {
      if (count > c.count) c.count = count
      return
    }
    if (this.#counts.size >= 2 * this.#capacity) this.#compact()
    this.#counts.set(key, { url, count, error: 0 })
  }

  #compact(): void {
    const sorted = [...this.#counts].sort((a, b) => byCount(a[1], b[1]))
    for (let i = this.#capacity; i < sorted.length; i++) {
      const [key, c] = sorted[i] as [string, Counter]
      if (c.count > this.#floor) this.#floor = c.count
      this.#counts.delete(key)
    }
  }

  entries(): Array<Counter & { rule: string }> {
    const out: Array<Counter & { rule: string }> = []
    for (const c of this.#counts.values()) out.push({ ...c, rule: this.name })
    return out
  }
}

/**
 * The most requested URLs per cache rule (`warm: { track }`), per-user
 * rules excluded (a warm-up has no user). In memory, bounded by `track`
 * keys per rule (twice that before a compaction).
 */
export class TopUrls {
  readonly track: number
  readonly #rules: Array<RuleTop | undefined>

  constructor(rules: readonly CompiledCacheRule[], ruleCount: number, track: number) {
    this.track = track
    this.#rules = new Array<RuleTop | undefined>(ruleCount).fill(undefined)
    for (const r of rules) if (!r.perUser) this.#rules[r.index] = new RuleTop(r.name, track)
  }

  /**
   * Counts one request of `rule` for `key` (a no-op for per-user rules). A key
   * not tracked yet enters only when `admit` (a miss of the memory tier): a
   * memory hit costs one `Map` lookup, and an increment when tracked.
   */
  record(
    rule: CompiledCacheRule,
    key: string,
    path: string,
    rawQuery: string,
    admit: boolean,
  ): void {
    this.#rules[rule.index]?.record(key, path, rawQuery, admit)
  }

  seed(rule: CompiledCacheRule, key: string, url: string, count: number): void {
    this.#rules[rule.index]?.seed(key, url, count)
  }

  /** The `n` most requested URLs over every tracked rule, most requested first. */
  top(n: number): TopUrl[] {
    const all: Array<Counter & { rule: string }> = []
    for (const r of this.#rules) if (r !== undefined) all.push(...r.entries())
    all.sort((a, b) => byCount(a, b) || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
    return all.slice(0, Math.max(0, n)).map(({ url, rule, count }) => ({ url, rule, count }))
  }

  /** How many URLs the shared copy keeps at most: `track` per tracked rule. */
  get sharedMax(): number {
    let rules = 0
    for (const r of this.#rules) if (r !== undefined) rules++
    return Math.min(rules * this.track, MAX_SHARED_TOP)
  }
}

/** The most URLs the shared tier's copy of the list ever holds. */
export const MAX_SHARED_TOP = 10_000
