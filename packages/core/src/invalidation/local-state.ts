import type { CacheEntry } from '../entry/entry'
import type { RuleSet } from '../rules/rule-set'
import { PatternLog } from './pattern-log'
import { TagVersions } from './tag-versions'
import { type NormalizedTarget, tenantTag, userTag } from './target'

/** What an invalidation bumps (tags, including implicit ones) and logs (patterns). */
export interface InvalidationPlan {
  readonly tags: readonly string[]
  readonly patterns: readonly string[]
  /**
   * `mode: 'expire'`: the tags' entries become stale (still served inside
   * their stale windows) instead of being removed. Tags only, no patterns.
   */
  readonly expire?: true
}

/** What a fill records when it starts, to be checked when it ends. */
export interface FillFence {
  readonly tags: readonly string[]
  readonly versions: readonly number[]
  /** The tags' expire versions (`mode: 'expire'`): an entry stored with older ones is stale. */
  readonly expireVersions: readonly number[]
  readonly patternSeq: number
  readonly generation: number
}

/**
 * This process's view of what has been invalidated: tag versions and the
 * pattern log. `epoch` moves on every invalidation, so an entry found valid
 * at the current epoch needs no re-check on the hit path.
 */
export class LocalInvalidationState {
  readonly #tags = new TagVersions()
  /** Versions `mode: 'expire'` moves: an entry whose tags' moved is stale, not gone. */
  readonly #expires = new TagVersions()
  /** When each tag's last expire was applied here (bounded as the versions are; a tag forgotten: 0). */
  readonly #expiredAt = new Map<string, number>()
  readonly #patterns = new PatternLog()
  readonly #rules: RuleSet
  readonly #maxLifetimeMs: number
  #epoch = 1
  /** Moves when this process may have missed invalidations: every open fence fails. */
  #generation = 1

  constructor(rules: RuleSet, maxLifetimeMs: number) {
    this.#rules = rules
    this.#maxLifetimeMs = maxLifetimeMs
  }

  get epoch(): number {
    return this.#epoch
  }

  fence(tags: readonly string[]): FillFence {
    return {
      tags,
      versions: this.#tags.capture(tags),
      expireVersions: this.#expires.capture(tags),
      patternSeq: this.#patterns.latestSeq,
      generation: this.#generation,
    }
  }

  /**
   * At the end of a fill: false when an invalidation of its tags or a pattern
   * matching its path came after the fill started (the response may predate
   * it). On true, returns the pattern sequence the entry is checked up to.
   */
  fenceHolds(fence: FillFence, path: string): number | false {
    if (fence.generation !== this.#generation) return false
    if (!this.#tags.allCurrent(fence.tags, fence.versions)) return false
    if (this.#patterns.invalidatedSince(fence.patternSeq, path) !== false) return false
    return this.#patterns.latestSeq
  }

  /**
   * Whether `entry` may still be served: false when one of its tags was
   * invalidated, or a pattern matching its path, since its fill started.
   * An entry one of whose tags was expired since (`mode: 'expire'`) is
   * valid, and stale from then on (see `expiry`).
   */
  isValid(entry: CacheEntry): boolean {
    if (entry.validatedEpoch === this.#epoch) return true
    if (!this.#tags.allCurrent(entry.tags, entry.tagVersions)) return false
    if (this.#patterns.invalidatedSince(entry.patternSeq, entry.path) !== false) return false
    this.expiry(entry)
    entry.patternSeq = this.#patterns.latestSeq
    entry.validatedEpoch = this.#epoch
    return true
  }

  /**
   * An entry one of whose tags was expired since its fill started (or since
   * it was last found expired) is stale: `staleAt` moves to when the
   * earliest of those expires was applied here (never later than the
   * caller's clock), and it is marked `expired`.
   */
  expiry(entry: CacheEntry): void {
    if (this.#expires.size === 0 || this.#expires.allCurrent(entry.tags, entry.expireVersions))
      return
    let at = entry.staleAt
    for (let i = 0; i < entry.tags.length; i++) {
      const tag = entry.tags[i] as string
      if (!this.#expires.allCurrent([tag], [entry.expireVersions[i] as number]))
        at = Math.min(at, this.#expiredAt.get(tag) ?? 0)
    }
    entry.staleAt = at
    entry.expired = true
    entry.expireVersions = this.#expires.capture(entry.tags)
  }

  /**
   * Turns a target into what is bumped and logged: users and tenants
   * become their implicit tags, and a rule's own pattern (when no earlier rule can hold
   * entries of the same paths) becomes that rule's implicit tag.
   */
  plan(target: NormalizedTarget): InvalidationPlan {
    const tags = [...target.tags, ...target.users.map(userTag), ...target.tenants.map(tenantTag)]
    if (target.expire === true) return { tags, patterns: [], expire: true }
    const patterns: string[] = []
    for (const pattern of target.patterns) {
      const exclusive = this.#rules.exclusiveRulesFor(pattern)
      if (exclusive.length > 0) tags.push(...exclusive.map((r) => r.routeTag))
      else patterns.push(pattern)
    }
    return { tags, patterns }
  }

  /** After missed invalidations: fills that started before now may not be stored locally. */
  resync(): void {
    this.#generation++
    this.#epoch++
  }

  apply(plan: InvalidationPlan, now: number): void {
    if (plan.expire === true) {
      this.#expires.bump(plan.tags)
      for (const tag of plan.tags) {
        this.#expiredAt.delete(tag)
        this.#expiredAt.set(tag, now)
      }
      while (this.#expiredAt.size > this.#expires.size)
        this.#expiredAt.delete(this.#expiredAt.keys().next().value as string)
      this.#epoch++
      return
    }
    for (const pattern of plan.patterns) this.#patterns.append(pattern, now)
    this.#tags.bump(plan.tags)
    this.#patterns.prune(now, this.#maxLifetimeMs)
    this.#epoch++
  }
}
