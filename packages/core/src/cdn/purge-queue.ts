import { debuglog } from 'node:util'
import type { PurgeResult, Purger } from './purger'

const debug = debuglog('cachet')

/** Waits between failed attempts: doubled from the first up to the longest, or the CDN's own. */
export const RETRY_FIRST_MS = 500
export const RETRY_MAX_MS = 60_000
/** The longest wait a CDN's own `Retry-After` is followed for (a Node timer's limit is far above). */
export const RETRY_AFTER_MAX_MS = 3_600_000

/** One purge call's outcome, as the `cdn:purge` event reports it. */
export interface PurgeReport {
  readonly provider: string
  readonly ok: boolean
  /** Tags and path patterns in the call (0 and 0 with `all`). */
  readonly tags: number
  readonly paths: number
  /** A purge of everything (`purge()`, or the queue past its bound). */
  readonly all: boolean
  readonly status?: number
  readonly error?: string
  /** Failed: when the same purge is tried again. */
  readonly retryInMs?: number
  /** Attempts of this purge so far (1 for the first). */
  readonly attempt: number
}

/** `stats().cdn.purges`: this process's purge queue since it started. */
export interface PurgeCounts {
  /** Tags and paths waiting (sent, failed and waiting to be retried, or not yet sent). */
  pending: number
  /** Calls that succeeded, and that failed (each attempt). */
  ok: number
  failed: number
  /** Tags and path patterns purged. */
  tags: number
  paths: number
  /** Pattern invalidations this CDN cannot purge by path (its tags were purged). */
  unsupported: number
  /** Times the queue passed `maxPending` and became one purge of everything. */
  overflows: number
}

interface Settings {
  readonly maxPending: number
  readonly perSecond: number
  readonly timeoutMs: number
}

/**
 * Purges waiting for a CDN, with outbox semantics like the Redis tier's
 * deferred invalidations: a purge is retried until the CDN accepts it, never
 * dropped. Tags (and path patterns) are deduplicated and sent in batches of
 * what one call takes, at most `perSecond` calls a second; a failed call
 * waits (the CDN's `Retry-After`, up to an hour, else doubling from 500 ms
 * to 60 s) and its batch goes first again. A refusal that retrying cannot
 * mend (a 403: a bad token, a 400 for one bad tag) is retried at the longest
 * wait, behind everything else, and reported each time. A tag invalidated
 * again while a call carrying it is under way is sent again. Past
 * `maxPending` waiting, the queue becomes one purge of everything where the
 * CDN's API has one; where it has none, the newest purges are refused,
 * reported as overflows.
 */
export class PurgeQueue {
  readonly counts: PurgeCounts = {
    pending: 0,
    ok: 0,
    failed: 0,
    tags: 0,
    paths: 0,
    unsupported: 0,
    overflows: 0,
  }
  readonly #purger: Purger
  readonly #settings: Settings
  readonly #reportTo: (r: PurgeReport) => void
  /** What waits, each with the sequence of its latest `add` (insertion order: the oldest first). */
  readonly #tags = new Map<string, number>()
  readonly #paths = new Map<string, number>()
  /** Refused by the CDN in a way retrying cannot mend: sent on their own, every `RETRY_MAX_MS`. */
  readonly #refusedTags = new Map<string, number>()
  readonly #refusedPaths = new Map<string, number>()
  #refusedUntil = 0
  /** A purge of everything waits: the sequence of its latest `addAll` (0: none). */
  #all = 0
  #seq = 0
  #attempt = 0
  /** The last call carried tags (the next one carries paths, when some wait). */
  #tagsLast = false
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #lastSent = 0
  #closed = false
  readonly #idle = new Set<() => void>()

  constructor(purger: Purger, settings: Settings, report: (r: PurgeReport) => void) {
    this.#purger = purger
    this.#settings = settings
    this.#reportTo = report
  }

  /** Queues a purge of `tags` and `paths` (patterns) and starts sending. */
  add(tags: readonly string[], paths: readonly string[]): void {
    if (this.#closed) {
      this.#report({
        provider: this.#purger.name,
        ok: false,
        tags: tags.length,
        paths: paths.length,
        all: false,
        error: 'the cache is closed: these purges were not queued',
        attempt: 0,
      })
      return
    }
    if (paths.length > 0 && this.#purger.maxPaths === 0) this.counts.unsupported += paths.length
    const seq = ++this.#seq
    for (const t of tags) {
      this.#refusedTags.delete(t)
      this.#tags.set(t, seq) // a tag already waiting keeps its place
    }
    if (this.#purger.maxPaths > 0)
      for (const p of paths) {
        this.#refusedPaths.delete(p)
        this.#paths.set(p, seq)
      }
    if (this.#tags.size + this.#paths.size > this.#settings.maxPending) this.#overflow()
    this.#count()
    this.#schedule(0)
  }

  /** A purge of everything (the cache's `purge()`), where the CDN's API has one. */
  addAll(): boolean {
    if (this.#closed || this.#purger.purgeAll === undefined) return false
    this.#all = ++this.#seq
    this.#count()
    this.#schedule(0)
    return true
  }

  /** Resolves once nothing waits, or after `ms` (false then). */
  async drained(ms: number): Promise<boolean> {
    if (this.counts.pending === 0) return true
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#idle.delete(done)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.#idle.delete(done)
        resolve(false)
      }, ms)
      timer.unref()
      this.#idle.add(done)
    })
  }

  /** Sends what waits for up to `ms`, then stops; what is left is reported as not purged. */
  async close(ms = 2_000): Promise<void> {
    await this.drained(ms)
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
    if (this.counts.pending > 0) {
      this.#report({
        provider: this.#purger.name,
        ok: false,
        tags: this.#tags.size + this.#refusedTags.size,
        paths: this.#paths.size + this.#refusedPaths.size,
        all: this.#all > 0,
        error: 'the cache closed before the CDN accepted these purges',
        attempt: this.#attempt,
      })
    }
  }

  /** A report to the listener, whose own failure never stops the queue. */
  #report(r: PurgeReport): void {
    try {
      this.#reportTo(r)
    } catch (err) {
      debug('a cdn:purge listener threw: %s', (err as Error).message)
    }
  }

  #overflow(): void {
    this.counts.overflows++
    if (this.#purger.purgeAll !== undefined) {
      // Everything waiting now is covered by one purge of everything.
      this.#all = ++this.#seq
      this.#tags.clear()
      this.#paths.clear()
      return
    }
    // No purge of everything: keep the oldest, refuse the rest (reported).
    const extra = this.#tags.size + this.#paths.size - this.#settings.maxPending
    const dropped = [...this.#tags.keys()].slice(-extra)
    for (const t of dropped) this.#tags.delete(t)
    this.#report({
      provider: this.#purger.name,
      ok: false,
      tags: dropped.length,
      paths: 0,
      all: false,
      error: `more than ${this.#settings.maxPending} tags waiting and ${this.#purger.name} has no purge of everything: these were not queued`,
      attempt: 0,
    })
  }

  #count(): void {
    this.counts.pending =
      (this.#all > 0 ? 1 : 0) +
      this.#tags.size +
      this.#paths.size +
      this.#refusedTags.size +
      this.#refusedPaths.size
    if (this.counts.pending === 0) for (const done of [...this.#idle]) done()
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#timer !== undefined || this.#running !== undefined) return
    const pace = Math.max(0, this.#lastSent + 1000 / this.#settings.perSecond - Date.now())
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#running = this.#sendOne().then(
          (next) => {
            this.#running = undefined
            if (next !== undefined && this.counts.pending > 0) this.#schedule(next)
          },
          (err: Error) => {
            // Not expected (every step is guarded): the queue goes on.
            this.#running = undefined
            debug('purge queue step failed: %s', err.message)
            this.#schedule(RETRY_MAX_MS)
          },
        )
      },
      Math.max(ms, pace),
    )
    this.#timer.unref()
  }

  /** The next call's contents: everything, or tags, or (every other call, when some wait) paths. */
  #batch(): {
    all: number
    refused: boolean
    tags: Array<[string, number]>
    paths: Array<[string, number]>
  } {
    const purger = this.#purger
    if (this.#all > 0) return { all: this.#all, refused: false, tags: [], paths: [] }
    const refusedWaiting = this.#refusedTags.size + this.#refusedPaths.size > 0
    if (refusedWaiting && Date.now() >= this.#refusedUntil) {
      const tags = [...this.#refusedTags].slice(0, purger.maxTags)
      const paths = tags.length > 0 ? [] : [...this.#refusedPaths].slice(0, purger.maxPaths)
      return { all: 0, refused: true, tags, paths }
    }
    // Paths in calls of their own: some CDNs count tags and paths together (CloudFront).
    const pathsTurn = this.#paths.size > 0 && (this.#tags.size === 0 || this.#tagsLast)
    if (pathsTurn)
      return { all: 0, refused: false, tags: [], paths: [...this.#paths].slice(0, purger.maxPaths) }
    return { all: 0, refused: false, tags: [...this.#tags].slice(0, purger.maxTags), paths: [] }
  }

  /** One call; resolves with the wait before the next (none: nothing waits). */
  async #sendOne(): Promise<number | undefined> {
    if (this.counts.pending === 0) return undefined
    const purger = this.#purger
    if (
      this.#all === 0 &&
      this.#tags.size + this.#paths.size === 0 &&
      Date.now() < this.#refusedUntil
    )
      return this.#refusedUntil - Date.now() // only refusals wait, not yet due
    const batch = this.#batch()
    const all = batch.all > 0
    const tags = batch.tags.map(([t]) => t)
    const paths = batch.paths.map(([p]) => p)
    this.#tagsLast = tags.length > 0
    this.#attempt++
    this.#lastSent = Date.now()
    const signal = AbortSignal.timeout(this.#settings.timeoutMs)
    let result: PurgeResult
    try {
      result = all
        ? await (purger.purgeAll as NonNullable<Purger['purgeAll']>)(signal)
        : await purger.send({ tags, paths }, signal)
    } catch (err) {
      // A purger must not reject; one that does is a failure to retry.
      result = { ok: false, retry: true, error: (err as Error).message }
    }
    const attempt = this.#attempt
    if (result.ok) {
      this.counts.ok++
      // Done, unless added again while the call was under way.
      if (all) {
        if (this.#all === batch.all) this.#all = 0
        for (const [t, seq] of [...this.#tags]) if (seq < batch.all) this.#tags.delete(t)
        for (const [p, seq] of [...this.#paths]) if (seq < batch.all) this.#paths.delete(p)
      }
      const tagsFrom = batch.refused ? this.#refusedTags : this.#tags
      const pathsFrom = batch.refused ? this.#refusedPaths : this.#paths
      for (const [t, seq] of batch.tags) if (tagsFrom.get(t) === seq) tagsFrom.delete(t)
      for (const [p, seq] of batch.paths) if (pathsFrom.get(p) === seq) pathsFrom.delete(p)
      this.counts.tags += tags.length
      this.counts.paths += paths.length
      this.#attempt = 0
      this.#count()
      this.#report({
        provider: purger.name,
        ok: true,
        tags: tags.length,
        paths: paths.length,
        all,
        status: result.status,
        attempt,
      })
      return 0
    }
    this.counts.failed++
    const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempt - 1))
    const wait = result.retry
      ? Math.min(RETRY_AFTER_MAX_MS, Math.max(backoff, result.retryAfterMs ?? 0))
      : RETRY_MAX_MS
    let next = wait
    if (batch.refused) this.#refusedUntil = Date.now() + wait
    else if (!result.retry) {
      // Set aside: a refusal must not hold back the purges after it.
      for (const [t, seq] of batch.tags)
        if (this.#tags.get(t) === seq) {
          this.#tags.delete(t)
          this.#refusedTags.set(t, seq)
        }
      for (const [p, seq] of batch.paths)
        if (this.#paths.get(p) === seq) {
          this.#paths.delete(p)
          this.#refusedPaths.set(p, seq)
        }
      this.#refusedUntil = Date.now() + wait
      if (this.#tags.size + this.#paths.size > 0) next = 0
    }
    debug(
      '%s purge failed (attempt %d): %s; again in %d ms',
      purger.name,
      attempt,
      result.error,
      wait,
    )
    this.#report({
      provider: purger.name,
      ok: false,
      tags: tags.length,
      paths: paths.length,
      all,
      ...(result.status === undefined ? {} : { status: result.status }),
      error: result.error,
      retryInMs: wait,
      attempt,
    })
    return next
  }
}
