import { createHash } from 'node:crypto'

/**
 * Every Redis key cachet uses, under one prefix. Entry, lock and marker keys
 * use a hash of the engine's key (which can be long and holds user ids); tag
 * records use the tag itself.
 *
 * The prefix is a hash tag (`{cachet}:…`): on Redis Cluster every key lives in
 * one slot, so each script (an entry checked against its tags' versions, a
 * fenced write) touches a single slot. The price is that one shard holds the
 * whole cache; a sharded layout is the Cluster issue's subject.
 */
export class Keyspace {
  /** The one hash of coordination state (see scripts.ts). */
  readonly state: string
  readonly patternLog: string
  readonly channel: string
  readonly #prefix: string

  constructor(name: string) {
    const prefix = `{${name}}`
    this.#prefix = prefix
    this.state = `${prefix}:state`
    this.patternLog = `${prefix}:plog`
    this.channel = `${prefix}:bus`
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
}
