import { compilePath } from '../rules/path-pattern'

interface LoggedPattern {
  readonly seq: number
  readonly at: number
  readonly match: (path: string) => unknown
}

/**
 * Pattern invalidations that are not a rule's own pattern: a short log of
 * `(sequence, pattern)`. An entry remembers the last sequence number checked
 * against its path, so a lookup tests only patterns logged since. Nothing
 * scans keys.
 *
 * A fill that ends checks the patterns logged while it ran, so a stored entry
 * has been checked against every pattern older than itself; a pattern older
 * than the longest entry lifetime can no longer concern any entry and is
 * dropped. When the log is full, the oldest pattern is dropped and entries
 * checked only up to it are treated as invalid (fail closed).
 */
export class PatternLog {
  readonly #items: LoggedPattern[] = []
  readonly #maxItems: number
  #seq = 0
  /** Entries checked only below this sequence are no longer verifiable. */
  #floor = 0

  constructor(maxItems = 10_000) {
    this.#maxItems = maxItems
  }

  get latestSeq(): number {
    return this.#seq
  }

  append(pattern: string, now: number): void {
    const matcher = compilePath(pattern)
    this.#items.push({ seq: ++this.#seq, at: now, match: matcher.match })
    if (this.#items.length > this.#maxItems) {
      const dropped = this.#items.shift() as LoggedPattern
      this.#floor = dropped.seq
    }
  }

  /**
   * Whether `path`, checked up to `seq`, is hit by a later pattern; `undefined`
   * means "unverifiable" (treat as invalid).
   */
  invalidatedSince(seq: number, path: string): boolean | undefined {
    if (seq >= this.#seq) return false
    if (seq < this.#floor) return undefined
    for (let i = this.#items.length - 1; i >= 0; i--) {
      const item = this.#items[i] as LoggedPattern
      if (item.seq <= seq) break
      if (item.match(path) !== undefined) return true
    }
    return false
  }

  /** Drops patterns older than `maxAgeMs`: no live entry predates them unchecked. */
  prune(now: number, maxAgeMs: number): void {
    let drop = 0
    while (drop < this.#items.length && (this.#items[drop] as LoggedPattern).at < now - maxAgeMs) {
      drop++
    }
    if (drop > 0) {
      // A fill still open since before these patterns cannot be checked against them.
      this.#floor = (this.#items[drop - 1] as LoggedPattern).seq
      this.#items.splice(0, drop)
    }
  }
}
