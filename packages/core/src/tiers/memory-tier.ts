import type { CacheEntry } from '../entry/entry'
import { CachetConfigError, describeValue } from '../errors'
import { parseSize } from '../options/units'

export interface MemoryTierOptions {
  /** Byte budget counting keys, headers, bodies and tags. Default 64 MiB. */
  maxBytes?: number | string
}

export const DEFAULT_L1_MAX_BYTES = 64 * 1024 * 1024

/**
 * The L1 tier: a least-recently-used map with a byte budget. It is never over
 * budget, it sets no timer per entry (expired entries are dropped when read
 * or when they reach the cold end), and it is synchronous.
 */
export class MemoryTier {
  readonly maxBytes: number
  #map = new Map<string, CacheEntry>()
  #bytes = 0
  #evictions = 0

  constructor(options: MemoryTierOptions = {}) {
    const parsed = parseSize(options.maxBytes ?? DEFAULT_L1_MAX_BYTES)
    if (typeof parsed === 'string' || parsed <= 0) {
      throw new CachetConfigError(
        'CACHET_INVALID_OPTION',
        `option "store.l1.maxBytes": ${typeof parsed === 'string' ? parsed : `expected more than 0 bytes, got ${describeValue(options.maxBytes)}`}`,
      )
    }
    this.maxBytes = parsed
  }

  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#map.size
  }

  get evictions(): number {
    return this.#evictions
  }

  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.#map.get(key)
    if (entry === undefined) return undefined
    if (now >= entry.deleteAt) {
      this.delete(key)
      return undefined
    }
    // Move to the hot end.
    this.#map.delete(key)
    this.#map.set(key, entry)
    return entry
  }

  /** Stores the entry, evicting from the cold end; false when it can never fit. */
  set(entry: CacheEntry): boolean {
    if (entry.size > this.maxBytes) return false
    this.delete(entry.key)
    this.#map.set(entry.key, entry)
    this.#bytes += entry.size
    for (const [key] of this.#map) {
      if (this.#bytes <= this.maxBytes) break
      this.delete(key)
      this.#evictions++
    }
    return true
  }

  delete(key: string): boolean {
    const entry = this.#map.get(key)
    if (entry === undefined) return false
    this.#map.delete(key)
    this.#bytes -= entry.size
    return true
  }

  clear(): void {
    this.#map.clear()
    this.#bytes = 0
  }

  keys(): IterableIterator<string> {
    return this.#map.keys()
  }
}
