/**
 * Tag versions, kept in process memory. Invalidating a tag gives it a new
 * version from one monotonic counter; an entry is valid only while every tag
 * it carries still has the version read when its fill started. Invalidation
 * is O(tags), never O(entries).
 *
 * A tag never invalidated has version 0. The map is bounded: the tags
 * invalidated longest ago are forgotten first, which turns their version back
 * to 0. Entries filled after that invalidation captured a non-zero version, so
 * forgetting fails closed (a spurious miss), never open.
 */
export class TagVersions {
  readonly #versions = new Map<string, number>()
  readonly #maxTags: number
  #counter = 0

  constructor(maxTags = 100_000) {
    this.#maxTags = maxTags
  }

  current(tag: string): number {
    return this.#versions.get(tag) ?? 0
  }

  capture(tags: readonly string[]): number[] {
    return tags.map((t) => this.current(t))
  }

  allCurrent(tags: readonly string[], versions: readonly number[]): boolean {
    for (let i = 0; i < tags.length; i++) {
      if ((this.#versions.get(tags[i] as string) ?? 0) !== versions[i]) return false
    }
    return true
  }

  bump(tags: readonly string[]): void {
    for (const tag of tags) {
      // Delete then set keeps the map ordered by last invalidation.
      this.#versions.delete(tag)
      this.#versions.set(tag, ++this.#counter)
    }
    for (const [tag] of this.#versions) {
      if (this.#versions.size <= this.#maxTags) break
      this.#versions.delete(tag)
    }
  }

  get size(): number {
    return this.#versions.size
  }
}
