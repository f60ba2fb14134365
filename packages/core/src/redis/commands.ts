import type { Cluster, Redis } from 'ioredis'

/** What the tier talks to: one Redis, or a Redis Cluster (every key in one hash slot). */
export type RedisClient = Redis | Cluster

import {
  ABANDON,
  ACK,
  CHECK_SHARDS,
  INVALIDATE,
  LEAVE,
  PENDING,
  READ,
  RENEW,
  RESYNC,
  TOP_SAVE,
  WRITE,
} from './scripts'

type Arg = string | number | Buffer
type Call<R> = (numKeys: number, ...args: Arg[]) => Promise<R>

/** The scripts, as ioredis custom commands (EVALSHA, with EVAL after a NOSCRIPT). */
export interface Scripts {
  cachetReadBuffer: Call<Buffer[]>
  cachetWrite: Call<number>
  cachetAbandon: Call<number>
  cachetInvalidate: Call<Array<number | string>>
  cachetPending: Call<string[]>
  cachetRenew: Call<[string, string]>
  cachetResync: Call<[string, number]>
  cachetLeave: Call<number>
  cachetAck: Call<number>
  cachetTopSave: Call<number>
  cachetCheckShards: Call<number>
}

/** Adds the scripts to a connection (idempotent). */
export function withScripts(client: RedisClient): RedisClient & Scripts {
  const scripts: Record<string, string> = {
    cachetRead: READ,
    cachetWrite: WRITE,
    cachetAbandon: ABANDON,
    cachetInvalidate: INVALIDATE,
    cachetPending: PENDING,
    cachetRenew: RENEW,
    cachetResync: RESYNC,
    cachetLeave: LEAVE,
    cachetAck: ACK,
    cachetTopSave: TOP_SAVE,
    cachetCheckShards: CHECK_SHARDS,
  }
  for (const [name, lua] of Object.entries(scripts)) {
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') {
      client.defineCommand(name, { lua })
    }
  }
  return client as RedisClient & Scripts
}
