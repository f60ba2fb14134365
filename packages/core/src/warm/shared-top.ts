import { debuglog } from 'node:util'
import type { RemoteTier } from '../tiers/remote-tier'
import type { TopUrls } from './top-urls'

const debug = debuglog('cachet')

/** What a shared tier offers to keep the top URLs across restarts (the Redis tier does). */
export interface TopUrlStore {
  /** Merges `urls` into the shared list (the highest count per URL stays), keeps the `max` highest, for `ttlMs`. */
  saveTopUrls(
    urls: ReadonlyArray<{ url: string; count: number }>,
    max: number,
    ttlMs: number,
  ): Promise<void>
  /** The `max` highest of the shared list, highest first. */
  loadTopUrls(max: number): Promise<Array<{ url: string; count: number }>>
}

export function topUrlStore(tier: RemoteTier | undefined): TopUrlStore | undefined {
  const t = tier as Partial<TopUrlStore> | undefined
  return typeof t?.saveTopUrls === 'function' && typeof t.loadTopUrls === 'function'
    ? (t as TopUrlStore)
    : undefined
}

/**
 * Keeps a copy of the top URLs in the shared tier: saved every `saveMs` and
 * on close, read back at start (a restarted process re-warms what was hot).
 * The memory list stays the reference: a flushed store loses only the copy,
 * which the next save writes again.
 */
export class SharedTopUrls {
  readonly #top: TopUrls
  readonly #store: TopUrlStore
  readonly #seed: (url: string, count: number) => void
  readonly #saveMs: number
  readonly #ttlMs: number
  #timer: NodeJS.Timeout | undefined

  constructor(
    top: TopUrls,
    store: TopUrlStore,
    seed: (url: string, count: number) => void,
    options: { saveMs: number; ttlMs: number },
  ) {
    this.#top = top
    this.#store = store
    this.#seed = seed
    this.#saveMs = options.saveMs
    this.#ttlMs = options.ttlMs
  }

  /** Reads the shared list back into memory, then saves periodically. Never rejects. */
  async start(): Promise<void> {
    try {
      for (const { url, count } of await this.#store.loadTopUrls(this.#top.sharedMax))
        this.#seed(url, count)
    } catch (err) {
      debug('top urls: could not read the shared list: %s', (err as Error).message)
    }
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.save(), this.#saveMs)
    this.#timer.unref()
  }

  /** Writes the memory list into the shared one. Never rejects. */
  async save(): Promise<void> {
    const max = this.#top.sharedMax
    const urls = this.#top.top(max).map(({ url, count }) => ({ url, count }))
    if (urls.length === 0) return
    try {
      await this.#store.saveTopUrls(urls, max, this.#ttlMs)
    } catch (err) {
      debug('top urls: could not save the shared list: %s', (err as Error).message)
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.save()
  }
}
