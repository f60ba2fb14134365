import type { KeyvStore } from '../keyv/options'
import { FileStore } from './file-store'

/**
 * What the disk tier keeps its copies in: the built-in file store (a
 * directory) or a Keyv store (`@keyv/sqlite`...). Values are bytes; a Keyv
 * store holds them as base64 strings (see keyv-tier.ts on serializers).
 */
export interface DiskStore {
  readonly kind: 'file' | 'keyv'
  /** Files and bytes held, and the bound (0 where the store does not tell). */
  readonly size: number
  readonly bytes: number
  readonly maxBytes: number
  open(): Promise<void>
  get(key: string): Promise<Buffer | undefined>
  /** `false` when the store did not take it (too large, refused); no `ttlMs`: until evicted. */
  set(key: string, value: Buffer, ttlMs?: number): Promise<boolean>
  delete(key: string): Promise<boolean>
  close(): Promise<void>
}

/** The built-in store: a directory this process owns, bounded in bytes. */
export class FileDiskStore implements DiskStore {
  readonly kind = 'file'
  readonly maxBytes: number
  readonly #files: FileStore

  constructor(dir: string, maxBytes: number) {
    this.maxBytes = maxBytes
    this.#files = new FileStore({ dir, maxBytes })
  }

  get size(): number {
    return this.#files.size
  }

  /** The directory could not be opened: nothing was, or will be, read from it. */
  get unusable(): boolean {
    return this.#files.refused !== undefined
  }

  get bytes(): number {
    return this.#files.bytes
  }

  open(): Promise<void> {
    return this.#files.open()
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.#files.get(key)
  }

  set(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    return this.#files.set(key, value, ttlMs)
  }

  delete(key: string): Promise<boolean> {
    return this.#files.delete(key)
  }

  close(): Promise<void> {
    return this.#files.close()
  }
}

/** A Keyv store (its bound is the store's own); cachet never closes it. */
export class KeyvDiskStore implements DiskStore {
  readonly kind = 'keyv'
  readonly size = 0
  readonly bytes = 0
  readonly maxBytes = 0
  readonly #keyv: KeyvStore

  constructor(keyv: KeyvStore) {
    this.#keyv = keyv
  }

  async open(): Promise<void> {}

  async get(key: string): Promise<Buffer | undefined> {
    const value = await this.#keyv.get(key)
    return typeof value === 'string' ? Buffer.from(value, 'base64') : undefined
  }

  set(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    return this.#keyv.set(key, value.toString('base64'), ttlMs)
  }

  delete(key: string): Promise<boolean> {
    return this.#keyv.delete(key)
  }

  async close(): Promise<void> {}
}

/**
 * A file store as the Keyv tier's store, for `store.l3` without a shared
 * tier: the Keyv tier's records (entries, tag versions, the pattern log) as
 * files, strings as UTF-8.
 */
export class FileKeyv implements KeyvStore {
  readonly #files: FileDiskStore

  constructor(files: FileDiskStore) {
    this.#files = files
  }

  get(key: string): Promise<unknown>
  get(keys: string[]): Promise<unknown[]>
  get(key: string | string[]): Promise<unknown> {
    if (Array.isArray(key)) return Promise.all(key.map((k) => this.#one(k)))
    return this.#one(key)
  }

  async #one(key: string): Promise<string | undefined> {
    return (await this.#files.get(key))?.toString('utf8')
  }

  set(key: string, value: string | number, ttl?: number): Promise<boolean> {
    // No TTL (the pattern log): kept until evicted.
    return this.#files.set(key, Buffer.from(String(value)), ttl)
  }

  delete(key: string): Promise<boolean> {
    return this.#files.delete(key)
  }
}
