import { createHash } from 'node:crypto'

/**
 * The keys a shared tier writes, under one prefix. Entry, lock and marker keys
 * use a hash of the engine's key (which can be long and holds user ids); tag
 * records use the tag itself.
 */
export class TierKeyspace {
  readonly patternLog: string
  readonly #prefix: string

  constructor(prefix: string) {
    this.#prefix = prefix
    this.patternLog = `${prefix}:plog`
  }

  protected get prefix(): string {
    return this.#prefix
  }

  hash(key: string): string {
    return createHash('sha256').update(key).digest('base64url')
  }

  entry(hash: string): string {
    return `${this.#prefix}:e:${hash}`
  }

  lock(hash: string): string {
    return `${this.#prefix}:l:${hash}`
  }

  marker(hash: string): string {
    return `${this.#prefix}:m:${hash}`
  }

  tag(tag: string): string {
    return `${this.#prefix}:t:${tag}`
  }

  /** The tag's expire record (`invalidate({ mode: 'expire' })`): `<version>@<ms>`, absent until the first. */
  expiry(tag: string): string {
    return `${this.#prefix}:x:${tag}`
  }
}
