import { randomBytes } from 'node:crypto'
import { TierKeyspace } from '../tiers/keyspace'

/**
 * The records under one prefix, as the Redis tier names them but without its
 * Cluster hash tag: `<prefix>:e:<hash>` (entry), `:l:` (lock), `:m:` (marker),
 * `<prefix>:t:<tag>`, `<prefix>:pseq`, `<prefix>:plog`. Entry, lock and marker
 * use a SHA-256 of the engine's key (long, and it can hold user ids).
 */
export class KeyvKeyspace extends TierKeyspace {
  readonly patternSeq: string

  constructor(prefix: string) {
    super(prefix)
    this.patternSeq = `${prefix}:pseq`
  }
}

/** A tag record's value: a fresh random version (set when a read finds none, or by an invalidation). */
export const newVersion = () => randomBytes(8).toString('hex')
