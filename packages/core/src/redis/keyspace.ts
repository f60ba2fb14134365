import { TierKeyspace } from '../tiers/keyspace'
import { shardTags } from './slot'

/**
 * The keys of one shard of the Redis tier. The shard's name is a hash tag
 * (`{cachet}:…`, or `{cachet#7}:…` when there are several shards): on Redis
 * Cluster every key of a shard lives in one slot, so each script (an entry
 * checked against its tags' versions, a fenced write) touches a single slot.
 * Each shard has its own coordination hash, tag versions and pattern log;
 * an invalidation is recorded in every shard, an entry lives in one.
 * The first shard is the home: its hash also holds the bus's sequence and
 * the processes' leases, and its channel carries the bus.
 */
export class Keyspace extends TierKeyspace {
  /** The one hash of coordination state (see scripts.ts). */
  readonly state: string
  readonly channel: string
  /** The most requested URLs, saved by processes with `warm.track` (a sorted set by count). */
  readonly top: string

  constructor(tag: string) {
    super(`{${tag}}`)
    this.state = `${this.prefix}:state`
    this.channel = `${this.prefix}:bus`
    this.top = `${this.prefix}:top`
  }
}

/** The keyspaces of `n` shards under `prefix`; the first is the home. */
export function shardKeyspaces(prefix: string, n: number): Keyspace[] {
  return shardTags(prefix, n).map((tag) => new Keyspace(tag))
}

/** The shard an entry's key hash (base64url) belongs to. */
export function shardIndex(hash: string, n: number): number {
  if (n === 1) return 0
  return Buffer.from(hash.slice(0, 8), 'base64url').readUInt32BE(0) % n
}
