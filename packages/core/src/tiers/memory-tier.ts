import type { CacheEntry } from '../entry/entry'
import { CachetConfigError, describeValue } from '../errors'
import { parseSize } from '../options/units'

export interface MemoryTierOptions {
  /** Byte budget counting keys, headers, bodies and tags. Default 64 MiB. */
  maxBytes?: number | string
}

export const DEFAULT_L1_MAX_BYTES = 64 * 1024 * 1024

interface Node {
  entry: CacheEntry
  /** Towards the hot end. */
  newer: Node | undefined
  /** Towards the cold end. */
  older: Node | undefined
}

/**
 * The L1 tier: a least-recently-used map with a byte budget. It is never over
 * budget, it sets no timer per entry (expired entries are dropped when read
 * or when they reach the cold end), and it is synchronous.
 *
 * Recency is a doubly linked list beside the map, so a hit moves an entry with
 * four pointer writes instead of a map delete and re-insert (which leaves a
 * hole in V8's ordered table on every hit, and periodic rehashes of the whole
 * table), and an eviction takes the tail without scanning.
 */
export class MemoryTier {
  readonly maxBytes: number
  #map = new Map<string, Node>()
  #hot: Node | undefined
  #cold: Node | undefined
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
    const node = this.#map.get(key)
    if (node === undefined) return undefined
    if (now >= node.entry.deleteAt) {
      this.#remove(key, node)
      return undefined
    }
    if (node !== this.#hot) {
      this.#unlink(node)
      this.#pushHot(node)
    }
    return node.entry
  }

  /** The entry for `key`, without touching its recency or expiring it (for inspection). */
  peek(key: string): CacheEntry | undefined {
    return this.#map.get(key)?.entry
  }

  /** Stores the entry, evicting from the cold end; false when it can never fit. */
  set(entry: CacheEntry): boolean {
    if (entry.size > this.maxBytes) return false
    this.delete(entry.key)
    const node: Node = { entry, newer: undefined, older: undefined }
    this.#map.set(entry.key, node)
    this.#pushHot(node)
    this.#bytes += entry.size
    while (this.#bytes > this.maxBytes && this.#cold !== undefined && this.#cold !== node) {
      this.#remove(this.#cold.entry.key, this.#cold)
      this.#evictions++
    }
    return true
  }

  delete(key: string): boolean {
    const node = this.#map.get(key)
    if (node === undefined) return false
    this.#remove(key, node)
    return true
  }

  clear(): void {
    this.#map.clear()
    this.#hot = undefined
    this.#cold = undefined
    this.#bytes = 0
  }

  /** Keys from the cold end (next to be evicted) to the hot end. */
  *keys(): IterableIterator<string> {
    for (let n = this.#cold; n !== undefined; n = n.newer) yield n.entry.key
  }

  #remove(key: string, node: Node): void {
    this.#map.delete(key)
    this.#unlink(node)
    this.#bytes -= node.entry.size
  }

  #pushHot(node: Node): void {
    node.newer = undefined
    node.older = this.#hot
    if (this.#hot !== undefined) this.#hot.newer = node
    this.#hot = node
    if (this.#cold === undefined) this.#cold = node
  }

  #unlink(node: Node): void {
    if (node.newer !== undefined) node.newer.older = node.older
    else this.#hot = node.older
    if (node.older !== undefined) node.older.newer = node.newer
    else this.#cold = node.newer
    node.newer = undefined
    node.older = undefined
  }
}
