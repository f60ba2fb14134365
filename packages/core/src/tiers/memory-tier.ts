import type { CacheEntry } from '../entry/entry'
import { CachetConfigError, describeValue } from '../errors'
import { parseSize } from '../options/units'

export interface MemoryTierOptions {
  /** Byte budget counting keys, headers, bodies and tags. Default 64 MiB. */
  maxBytes?: number | string
  /**
   * The most one tenant's entries (rules with a `tenant`) may take of the
   * budget: past it, that tenant's own least recently used entries go first,
   * so one tenant's traffic cannot evict the others'. Default: no quota.
   */
  maxBytesPerTenant?: number | string
}

/** The tag prefix of a tenant's entries (see `tenantTag`). */
const TENANT_TAG = '#tenant:'

/** The tenant an entry belongs to: its `#tenant:` tag, the last of its tags. */
function tenantOfEntry(entry: CacheEntry): string | undefined {
  const tags = entry.tags
  for (let i = tags.length - 1; i >= 0; i--) {
    const t = tags[i] as string
    if (t.startsWith(TENANT_TAG)) return t
  }
  return undefined
}

/** One tenant's entries, coldest first, and their bytes. */
interface TenantShare {
  bytes: number
  hot: Node | undefined
  cold: Node | undefined
}

export const DEFAULT_L1_MAX_BYTES = 64 * 1024 * 1024

interface Node {
  entry: CacheEntry
  /** Towards the hot end. */
  newer: Node | undefined
  /** Towards the cold end. */
  older: Node | undefined
  /** With a tenant quota: the entry's tenant's share, and its place in it. */
  share: TenantShare | undefined
  tenantNewer: Node | undefined
  tenantOlder: Node | undefined
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
  /** `maxBytesPerTenant`, or `undefined` without a quota. */
  readonly maxBytesPerTenant: number | undefined
  #tenants = new Map<string, TenantShare>()
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
    if (options.maxBytesPerTenant === undefined) this.maxBytesPerTenant = undefined
    else {
      const quota = parseSize(options.maxBytesPerTenant)
      if (typeof quota === 'string' || quota <= 0) {
        throw new CachetConfigError(
          'CACHET_INVALID_OPTION',
          `option "store.l1.maxBytesPerTenant": ${typeof quota === 'string' ? quota : `expected more than 0 bytes, got ${describeValue(options.maxBytesPerTenant)}`}`,
        )
      }
      this.maxBytesPerTenant = Math.min(quota, parsed)
    }
  }

  /** The bytes the entries of tenant `tenant` take (0 without a quota, or none of them). */
  tenantBytes(tenant: string): number {
    return this.#tenants.get(`${TENANT_TAG}${tenant}`)?.bytes ?? 0
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
    const share = node.share
    if (share !== undefined && share.hot !== node) {
      this.#leaveShare(node, share)
      this.#pushShare(node, share)
    }
    return node.entry
  }

  /** The entry for `key`, without touching its recency or expiring it (for inspection). */
  peek(key: string): CacheEntry | undefined {
    return this.#map.get(key)?.entry
  }

  /** Stores the entry, evicting from the cold end; false when it can never fit (its tenant's quota included). */
  set(entry: CacheEntry): boolean {
    if (entry.size > this.maxBytes) return false
    const quota = this.maxBytesPerTenant
    const tenant = quota === undefined ? undefined : tenantOfEntry(entry)
    if (tenant !== undefined && entry.size > (quota as number)) return false
    this.delete(entry.key)
    const node: Node = {
      entry,
      newer: undefined,
      older: undefined,
      share: undefined,
      tenantNewer: undefined,
      tenantOlder: undefined,
    }
    this.#map.set(entry.key, node)
    this.#pushHot(node)
    this.#bytes += entry.size
    if (tenant !== undefined) {
      const share = this.#joinShare(node, tenant)
      // The tenant's own coldest entries make room for its new one first.
      while (share.bytes > (quota as number) && share.cold !== undefined && share.cold !== node) {
        this.#remove(share.cold.entry.key, share.cold)
        this.#evictions++
      }
    }
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
    this.#tenants.clear()
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
    const share = node.share
    if (share !== undefined) {
      this.#leaveShare(node, share)
      share.bytes -= node.entry.size
      if (share.hot === undefined) this.#tenants.delete(tenantOfEntry(node.entry) as string)
    }
  }

  #joinShare(node: Node, tenant: string): TenantShare {
    let share = this.#tenants.get(tenant)
    if (share === undefined) {
      share = { bytes: 0, hot: undefined, cold: undefined }
      this.#tenants.set(tenant, share)
    }
    node.share = share
    share.bytes += node.entry.size
    this.#pushShare(node, share)
    return share
  }

  #pushShare(node: Node, share: TenantShare): void {
    node.tenantNewer = undefined
    node.tenantOlder = share.hot
    if (share.hot !== undefined) share.hot.tenantNewer = node
    share.hot = node
    if (share.cold === undefined) share.cold = node
  }

  #leaveShare(node: Node, share: TenantShare): void {
    if (node.tenantNewer !== undefined) node.tenantNewer.tenantOlder = node.tenantOlder
    else share.hot = node.tenantOlder
    if (node.tenantOlder !== undefined) node.tenantOlder.tenantNewer = node.tenantNewer
    else share.cold = node.tenantNewer
    node.tenantNewer = undefined
    node.tenantOlder = undefined
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
