import { TierKeyspace } from '../tiers/keyspace'

/**
 * The Redis tier's keys. The prefix is a hash tag (`{cachet}:…`): on Redis
 * Cluster every key lives in one slot, so each script (an entry checked
 * against its tags' versions, a fenced write) touches a single slot. The
 * price is that one shard holds the whole cache; a sharded layout is the
 * Cluster issue's subject.
 */
export class Keyspace extends TierKeyspace {
  /** The one hash of coordination state (see scripts.ts). */
  readonly state: string
  readonly channel: string
  /** The most requested URLs, saved by processes with `warm.track` (a sorted set by count). */
  readonly top: string

  constructor(name: string) {
    super(`{${name}}`)
    this.state = `${this.prefix}:state`
    this.channel = `${this.prefix}:bus`
    this.top = `${this.prefix}:top`
  }
}
