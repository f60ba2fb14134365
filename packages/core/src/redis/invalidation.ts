import { randomBytes } from 'node:crypto'
import { CachetInvalidationError } from '../errors'
import type { InvalidationPlan } from '../invalidation/local-state'
import { DeadlineError, withDeadline } from '../tiers/deadline'
import type { RedisClients } from './clients'
import type { Scripts } from './commands'
import type { Keyspace } from './keyspace'
import type { ShardLayout } from './layout'
import type { RedisSettings } from './options'

/** Errors no retry can fix. */
const PERMANENT = /^(CACHET_|NOSCRIPT|WRONGTYPE|NOPERM|WRONGPASS)/

type InvalidationSettings = Pick<
  RedisSettings,
  'invalidateMs' | 'tagTtlMs' | 'patternLogSize' | 'leaseMs' | 'waitReplicas' | 'waitMs'
>

/**
 * Invalidations in Redis: recorded in every shard (tag versions, the pattern
 * log), published on the bus by the home, optionally waited for by replicas
 * (`WAIT`), then acknowledged by every process with a live lease.
 */
export class RedisInvalidations {
  readonly #clients: RedisClients
  readonly #layout: ShardLayout
  readonly #opts: InvalidationSettings

  constructor(clients: RedisClients, layout: ShardLayout, opts: InvalidationSettings) {
    this.#clients = clients
    this.#layout = layout
    this.#opts = opts
  }

  /**
   * Resolves with the bus sequence and how many processes held a live lease
   * (each applied it or lost its lease). Needs no bus of this process's own:
   * a process that does not join the bus (the CLI) invalidates with the same
   * promise, durable and acknowledged, or it rejects.
   */
  async invalidate(plan: InvalidationPlan): Promise<{ seq: number; processes: number }> {
    const until = Date.now() + this.#opts.invalidateMs
    const payload = JSON.stringify(
      plan.expire === true
        ? { tags: plan.tags, patterns: [], expire: true }
        : { tags: plan.tags, patterns: plan.patterns },
    )
    let reply: Array<number | string>
    try {
      if (!this.#clients.opened) await this.#clients.whenOpen(this.#opts.invalidateMs)
      await this.#layout.confirm()
      // Every other shard first: once the bus carries the invalidation, a
      // process that drops its memory copy must find no valid entry in any
      // shard to refill it from.
      await Promise.all(
        this.#layout.shards.slice(1).map((k) => this.#record(k, plan, false, payload, until)),
      )
      reply = await this.#record(this.#layout.home, plan, true, payload, until)
    } catch (err) {
      const { watch } = this.#clients
      throw new CachetInvalidationError(
        'CACHET_INVALIDATION_FAILED',
        `invalidate(): could not record the invalidation in Redis (${watch.location}): ${watch.causeOf(err as Error)}`,
        { cause: err },
      )
    }
    const [seq, waitMs, epoch, ...live] = reply
    await this.#layout.bus.waitApplied(Number(seq), String(epoch), live.map(String), Number(waitMs))
    return { seq: Number(seq), processes: live.length }
  }

  /**
   * Records an invalidation in one shard (the home also publishes it on the
   * bus). A failover, a resharding or a reconnect fails a command for a moment
   * (CLUSTERDOWN, TRYAGAIN, MOVED beyond the redirections, a closed
   * connection): the script is sent again until `until`. Running it twice is
   * harmless: versions only move forward, a pattern logged twice matches the
   * same keys, and a message published twice is applied twice.
   */
  async #record(
    k: Keyspace,
    plan: InvalidationPlan,
    publish: boolean,
    payload: string,
    until: number,
  ): Promise<Array<number | string>> {
    let backoff = 25
    /** The last failure that was not the deadline: what to report when the deadline ends the retries. */
    let reason: Error | undefined
    for (;;) {
      try {
        return await withDeadline(
          'invalidate',
          Math.max(1, until - Date.now()),
          this.#recordOnce(k, plan, publish, payload),
        )
      } catch (err) {
        const error = err as Error
        if (PERMANENT.test(error.message)) throw error
        if (!(error instanceof DeadlineError)) reason = error
        if (until - Date.now() <= backoff) throw reason ?? error
        await new Promise((resolve) => setTimeout(resolve, backoff))
        backoff = Math.min(backoff * 2, 200)
      }
    }
  }

  async #recordOnce(
    k: Keyspace,
    plan: InvalidationPlan,
    publish: boolean,
    payload: string,
  ): Promise<Array<number | string>> {
    const { waitReplicas, waitMs } = this.#opts
    const expire = plan.expire === true
    const args: Array<string | number> = [
      2 + plan.tags.length * (expire ? 2 : 1),
      k.state,
      k.patternLog,
      ...plan.tags.map((t) => k.tag(t)),
      ...(expire ? plan.tags.map((t) => k.expiry(t)) : []),
      publish ? k.channel : '',
      randomBytes(8).toString('hex'),
      this.#opts.tagTtlMs,
      this.#opts.patternLogSize,
      payload,
      this.#opts.leaseMs,
      this.#layout.shards.length,
      expire ? String(Date.now()) : '',
      ...(expire ? [] : plan.patterns),
    ]
    const [numKeys, ...rest] = args as [number, ...Array<string | number>]
    const cmd = this.#clients.cmd
    if (waitReplicas === 0) return cmd.cachetInvalidate(numKeys, ...rest)
    // WAIT on the same connection, right behind the script: it returns once
    // that many replicas have everything this connection wrote.
    const pipeline = cmd.pipeline() as unknown as Scripts & {
      wait(replicas: number, ms: number): unknown
      exec(): Promise<Array<[Error | null, unknown]> | null>
    }
    pipeline.cachetInvalidate(numKeys, ...rest)
    pipeline.wait(waitReplicas, waitMs)
    const results = await pipeline.exec()
    const [recorded, waited] = results ?? []
    if (recorded === undefined || waited === undefined)
      throw new Error('the pipeline was discarded')
    if (recorded[0] !== null) throw recorded[0]
    if (waited[0] !== null) throw waited[0]
    if (Number(waited[1]) < waitReplicas) {
      throw new Error(
        `WAIT: ${Number(waited[1])} of ${waitReplicas} replica(s) acknowledged within ${waitMs} ms`,
      )
    }
    return recorded[1] as Array<number | string>
  }
}
