import { performance } from 'node:perf_hooks'
import { debuglog } from 'node:util'
import { CachetInvalidationError } from '../errors'
import type { InvalidationPlan } from '../invalidation/local-state'
import { withDeadline } from '../tiers/deadline'
import type { CoherenceHooks } from '../tiers/remote-tier'
import type { RedisClient, Scripts } from './commands'
import type { Keyspace } from './keyspace'

const debug = debuglog('cachet')

export interface BusOptions {
  id: string
  leaseMs: number
  commandMs: number
  /** The keyspace's number of shards (checked against Redis's record of it). */
  shards: number
  /** After each resync; `epochChanged` when it joined another epoch than before. */
  onSynced?: (epochChanged: boolean) => void
  /** A resync was refused: this process's shard count is not the prefix's (CACHET_SHARDS). */
  onRefused?: (err: Error) => void
  newEpoch: () => string
}

interface Message {
  epoch: string
  seq: number
  payload: string
}

/**
 * The invalidation bus of one process, and its lease.
 *
 * Every invalidation is published with the keyspace epoch and a sequence
 * number from INCR, in one script with the version bumps. A process applies
 * messages in sequence; a gap, another epoch or a lost subscription means it
 * may have missed one, so it drops its memory tier and starts over from the
 * current sequence (resync). It acknowledges by recording the last sequence
 * it applied, and holds a lease in Redis that it renews only while its
 * subscription is healthy. It trusts its memory tier only while its lease is
 * current by its own clock (with a margin) and no resync is under way.
 *
 * `invalidate()` waits until every process with a live lease has applied the
 * message, or its lease has run out: either way, nobody can still serve what
 * was invalidated.
 */
export class RedisBus {
  readonly #cmd: RedisClient & Scripts
  readonly #sub: RedisClient
  readonly #keys: Keyspace
  readonly #opts: BusOptions
  readonly #ackChannel: string
  #hooks: CoherenceHooks | undefined
  #subscribed = false
  #resyncing: Promise<void> | undefined
  #buffer: Message[] = []
  #epoch: string | undefined
  #lastSeq = 0
  /** The bus sequence seen at the last renewal: by the next one, it must have been applied. */
  #seenBusSeq = 0
  #leaseUntil = 0
  #renewTimer: NodeJS.Timeout | undefined
  #ackScheduled = false
  #ackWaiters = new Set<() => void>()
  #closed = false
  #synced: () => void = () => {}
  readonly #firstSync = new Promise<void>((resolve) => {
    this.#synced = resolve
  })

  constructor(cmd: RedisClient & Scripts, sub: RedisClient, keys: Keyspace, opts: BusOptions) {
    this.#cmd = cmd
    this.#sub = sub
    this.#keys = keys
    this.#opts = opts
    this.#ackChannel = `${keys.channel}:acks`
  }

  trusted(): boolean {
    return this.#subscribed && this.#resyncing === undefined && performance.now() < this.#leaseUntil
  }

  /** Subscribes and takes part; resolves after the first resync, or after 2 s of trying. */
  async start(hooks: CoherenceHooks): Promise<void> {
    this.#hooks = hooks
    this.#sub.on('message', (channel: string, text: string) => this.#onMessage(channel, text))
    this.#sub.on('close', () => this.#lost('subscription closed'))
    this.#sub.on('ready', () => void this.#subscribe())
    this.#renewTimer = setInterval(
      () => void this.#renew(),
      Math.max(10, Math.floor(this.#opts.leaseMs / 3)),
    )
    this.#renewTimer.unref()
    if (this.#sub.status === 'ready') void this.#subscribe()
    const giveUp = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())
    await Promise.race([this.#firstSync, giveUp])
  }

  #lost(why: string): void {
    if (this.#subscribed) debug('bus: %s; the memory tier is not trusted until resync', why)
    this.#subscribed = false
    this.#leaseUntil = 0
  }

  async #subscribe(): Promise<void> {
    if (this.#closed) return
    try {
      await this.#sub.subscribe(this.#keys.channel, this.#ackChannel)
      this.#subscribed = true
      await this.#resync('subscribed')
    } catch (err) {
      debug('bus: subscribe failed: %s', (err as Error).message)
    }
  }

  #onMessage(channel: string, text: string): void {
    if (channel === this.#ackChannel) {
      for (const wake of this.#ackWaiters) wake()
      return
    }
    if (channel !== this.#keys.channel) return
    const a = text.indexOf('|')
    const b = text.indexOf('|', a + 1)
    const message = {
      epoch: text.slice(0, a),
      seq: Number(text.slice(a + 1, b)),
      payload: text.slice(b + 1),
    }
    if (this.#resyncing !== undefined) this.#buffer.push(message)
    else this.#handle(message)
  }

  #handle(m: Message): void {
    // Pub/sub delivers each message once, in order: a sequence that does not
    // follow on (a gap, or one that went back — counters rolled back by a
    // failover) means this process's view can no longer be trusted.
    if (m.epoch !== this.#epoch || m.seq !== this.#lastSeq + 1) {
      void this.#resync(`missed invalidations (got ${m.seq}, expected ${this.#lastSeq + 1})`)
      return
    }
    let plan: InvalidationPlan
    try {
      plan = JSON.parse(m.payload) as InvalidationPlan
    } catch {
      void this.#resync('unreadable message')
      return
    }
    this.#hooks?.onInvalidate(plan)
    this.#lastSeq = m.seq
    this.#scheduleAck()
  }

  /** Acknowledges the last applied sequence, once per tick however many messages came. */
  #scheduleAck(): void {
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    setImmediate(() => {
      this.#ackScheduled = false
      const ack = this.#cmd.cachetAck(
        1,
        this.#keys.state,
        this.#opts.id,
        this.#lastSeq,
        this.#epoch ?? '',
        this.#ackChannel,
      )
      withDeadline('ack', this.#opts.commandMs, ack).catch((err: Error) => {
        debug('bus: ack failed: %s', err.message)
      })
    })
  }

  /** Drops the memory tier, then starts over from the current sequence. */
  #resync(why: string): Promise<void> {
    if (this.#resyncing !== undefined) return this.#resyncing
    debug('bus: resync (%s)', why)
    this.#leaseUntil = 0
    this.#hooks?.onResync()
    this.#resyncing = (async () => {
      const started = performance.now()
      try {
        const keys = this.#keys
        const [epoch, seq] = await withDeadline(
          'resync',
          this.#opts.commandMs,
          this.#cmd.cachetResync(
            2,
            keys.state,
            keys.patternLog,
            this.#opts.newEpoch(),
            this.#opts.id,
            this.#opts.leaseMs,
            this.#opts.shards,
          ),
        )
        const epochChanged = this.#epoch !== String(epoch)
        this.#epoch = String(epoch)
        this.#opts.onSynced?.(epochChanged)
        this.#lastSeq = Number(seq)
        this.#seenBusSeq = this.#lastSeq
        if (this.#subscribed) this.#leaseUntil = this.#leaseEnd(started)
        this.#synced()
        this.#hooks?.onHealthy?.()
      } catch (err) {
        debug('bus: resync failed: %s', (err as Error).message)
        if ((err as Error).message.startsWith('CACHET_SHARDS')) this.#opts.onRefused?.(err as Error)
        const retry = setTimeout(() => void this.#resync('retry'), 200)
        retry.unref()
      } finally {
        this.#resyncing = undefined
        const buffered = this.#buffer
        this.#buffer = []
        // Messages already counted in the sequence the resync read are dropped.
        if (this.#epoch !== undefined) {
          for (const m of buffered)
            if (m.epoch !== this.#epoch || m.seq > this.#lastSeq) this.#handle(m)
        }
      }
    })()
    return this.#resyncing
  }

  /** The local time up to which the lease renewed at `started` may be trusted. */
  #leaseEnd(started: number): number {
    // Redis counts the lease from when it ran the script, after `started`;
    // 10% (and 50 ms) of margin covers the two clocks drifting apart.
    return started + this.#opts.leaseMs * 0.9 - 50
  }

  async #renew(): Promise<void> {
    if (
      !this.#subscribed ||
      this.#resyncing !== undefined ||
      this.#epoch === undefined ||
      this.#closed
    )
      return
    const started = performance.now()
    if (started >= this.#leaseUntil) {
      // The lease lapsed (a stall, a slow Redis): invalidations may have been
      // reported done without this process's acknowledgement. Start over.
      await this.#resync('the lease lapsed')
      return
    }
    const keys = this.#keys
    const deadline = Math.max(10, Math.floor(this.#opts.leaseMs / 3))
    try {
      // The subscription must be proven alive, not just not known dead: a
      // half-open connection delivers nothing and closes nothing.
      await withDeadline('subscriber ping', deadline, this.#sub.ping())
    } catch (err) {
      debug('bus: the subscriber does not answer (%s): reconnecting', (err as Error).message)
      this.#lost('subscriber silent')
      this.#sub.disconnect(true)
      return
    }
    try {
      const [status, value] = await withDeadline(
        'renew',
        deadline,
        this.#cmd.cachetRenew(
          1,
          keys.state,
          this.#opts.id,
          this.#opts.leaseMs,
          this.#lastSeq,
          this.#epoch,
        ),
      )
      if (String(status) !== 'ok') {
        await this.#resync('the keyspace was reborn (Redis restarted, flushed or evicted)')
        return
      }
      // A message published before the previous renewal should have arrived
      // by now; if it has not, it never will.
      if (this.#lastSeq < this.#seenBusSeq) {
        await this.#resync(`messages up to ${this.#seenBusSeq} never arrived`)
        return
      }
      this.#seenBusSeq = Number(value)
      if (this.#subscribed && this.#resyncing === undefined)
        this.#leaseUntil = this.#leaseEnd(started)
      this.#hooks?.onHealthy?.()
    } catch (err) {
      debug('bus: lease renewal failed: %s', (err as Error).message)
    }
  }

  /**
   * Waits until every process in `live` has applied `seq` or lost its lease.
   * In a keyspace younger than a lease (first use, restart, FLUSHALL), the
   * processes that held leases before it are unknown: `bornWaitMs` waits
   * until theirs have run out.
   */
  async waitApplied(seq: number, epoch: string, live: string[], bornWaitMs: number): Promise<void> {
    if (bornWaitMs > 0) await sleep(bornWaitMs)
    const giveUp = performance.now() + this.#opts.leaseMs + 2000
    let pending = live
    while (pending.length > 0) {
      const keys = this.#keys
      const wake = new Promise<void>((resolve) => {
        const done = () => {
          this.#ackWaiters.delete(done)
          resolve()
        }
        this.#ackWaiters.add(done)
        setTimeout(done, 25).unref()
      })
      pending = (
        await withDeadline(
          'acknowledgements',
          this.#opts.commandMs,
          this.#cmd.cachetPending(1, keys.state, seq, epoch, ...pending),
        )
      ).map(String)
      if (pending[0] === '!epoch') {
        // Reborn meanwhile: every process either resyncs (dropping its memory
        // tier) at its next renewal or loses its lease within one lease.
        await sleep(this.#opts.leaseMs)
        return
      }
      if (pending.length === 0) break
      if (performance.now() > giveUp) {
        throw new CachetInvalidationError(
          'CACHET_INVALIDATION_FAILED',
          `invalidate(): ${pending.length} process(es) neither acknowledged nor lost their lease: ${pending.join(', ')}`,
        )
      }
      await wake
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#renewTimer)
    this.#subscribed = false
    this.#leaseUntil = 0
    const keys = this.#keys
    await withDeadline(
      'leave',
      this.#opts.commandMs,
      this.#cmd.cachetLeave(1, keys.state, this.#opts.id),
    ).catch(() => {})
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
