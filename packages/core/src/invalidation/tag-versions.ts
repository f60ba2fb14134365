/**
 * Tag versions, kept in process memory. Invalidating a tag gives it a new
 * version from one monotonic counter; an entry is valid only while every tag
 * it carries still has the version read when its fill started. Invalidation
 * is O(tags), never O(entries).
 *
 * A tag with no record is captured as `-counter` ("never invalidated, as of
 * this point"). The map is bounded: the tags invalidated longest ago are
 * forgotten first, and `#forgotten` remembers the newest version forgotten.
 * A capture `-c` of a tag without a record still holds only if `c` is at
 * least that: an entry filled before a forgotten invalidation fails, and so
 * does one filled after it (it captured a positive version). Forgetting fails
 * closed (a spurious miss), never open.
 */
export class TagVersions {
  readonly #versions = new Map<string, number>()
  readonly #maxTags: number
  #counter = 0
  #forgotten = 0

  constructor(maxTags = 100_000) {
    this.#maxTags = maxTags
  }

  /** The tag's version; 0 when it has no record. */
  current(tag: string): number {
    return this.#versions.get(tag) ?? 0
  }

  capture(tags: readonly string[]): number[] {
    const never = this.#counter === 0 ? 0 : -this.#counter
    return tags.map((t) => this.#versions.get(t) ?? never)
  }

  allCurrent(tags: readonly string[], versions: readonly number[]): boolean {
    for (let i = 0; i < tags.length; i++) {
      const captured = versions[i] as number
      const current = this.#versions.get(tags[i] as string)
      if (
        current === undefined ? captured > 0 || -captured < this.#forgotten : current !== captured
      ) {
        return false
      }
    }
    return true
  }

  bump(tags: readonly string[]): void {
    for (const tag of tags) {
      // Delete then set keeps the map ordered by last invalidation.
      this.#versions.delete(tag)
      this.#versions.set(tag, ++this.#counter)
    }
    for (const [tag, version] of this.#versions) {
      if (this.#versions.size <= this.#maxTags) break
      this.#versions.delete(tag)
      if (version > this.#forgotten) this.#forgotten = version
    }
  }

  get size(): number {
    return this.#versions.size
  }
}
