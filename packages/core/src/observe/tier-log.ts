import type { BreakerState } from '../tiers/breaker'
import type { RemoteTier } from '../tiers/remote-tier'

/**
 * Where cachet's warnings go (option `logger`): `console` by default, or any
 * logger with a `warn(message)` method (pino, winston, bunyan); `false`
 * silences them.
 */
export interface CacheLogger {
  warn(message: string): void
}

/**
 * What `cache.ready` resolves with (it never rejects: the cache fails open).
 * `none`: no shared tier. `connected`: the shared tier answered (Redis: this
 * process joined its invalidation bus). `unreachable`: it did not within the
 * start wait (2 s); requests go on from memory and the origin, and the tier
 * keeps trying in the background. `cause` says why
 * (`ECONNREFUSED 127.0.0.1:6379`).
 */
export interface ReadyStatus {
  readonly shared: 'none' | 'connected' | 'unreachable'
  readonly cause?: string
}

/** An outage is told at most once per this long; a recovery is told at once. */
export const TIER_LOG_INTERVAL_MS = 30_000

type Down = 'cannot connect' | 'lost' | 'degraded'

/**
 * The shared tier's health as log lines: one when it cannot connect, loses
 * its connection or its breaker opens, one when it is back; never one per
 * failed operation. Outages are rate-limited (at most one message per
 * `intervalMs`; those in between are counted, and the state at the end of the
 * interval is always told).
 */
export class TierLog {
  readonly #logger: CacheLogger | undefined
  readonly #tier: Pick<RemoteTier, 'name' | 'location' | 'causeOf'>
  readonly #intervalMs: number
  readonly #now: () => number
  /** The connection as the tier reported it; undefined until it reports (a tier may never). */
  #connected: boolean | undefined
  #everConnected = false
  #connectionCause: string | undefined
  #breakerOpen = false
  #breakerFailures = 0
  /** The last failed operation's error (translated only when a message needs it). */
  #lastError: Error | undefined
  #down = false
  #downSince = 0
  /** Whether the last message told of an outage. */
  #told = false
  #quietUntil = 0
  /** Outages not told since the last message. */
  #untold = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(
    logger: CacheLogger | undefined,
    tier: Pick<RemoteTier, 'name' | 'location' | 'causeOf'>,
    options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.#logger = logger
    this.#tier = tier
    this.#intervalMs = options.intervalMs ?? TIER_LOG_INTERVAL_MS
    this.#now = options.now ?? Date.now
  }

  /** The tier's connection came up, or went down (`cause`: why). */
  connection(up: boolean, cause?: string): void {
    this.#connected = up
    if (up) this.#everConnected = true
    else this.#connectionCause = cause ?? this.#connectionCause
    this.#update()
  }

  /** A shared-tier operation failed: the cause of a breaker message, if one follows. */
  failed(error: Error): void {
    this.#lastError = error
  }

  breaker(state: BreakerState, failures: number): void {
    // Half-open is still out of service: only a successful probe closes it.
    this.#breakerOpen = state !== 'closed'
    if (state === 'open') this.#breakerFailures = failures
    this.#update()
  }

  /** What `ready` says once the start is over; `trusted`: the tier answered (its bus is joined). */
  status(trusted: boolean, waitedMs: number): ReadyStatus {
    if (!this.#down && !trusted) {
      // Connected, perhaps, but nothing answered: a hung Redis accepts connections.
      this.connection(false, this.#connectionCause ?? `no answer within ${Math.round(waitedMs)} ms`)
    }
    return this.#down ? { shared: 'unreachable', cause: this.#cause() } : { shared: 'connected' }
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
  }

  #update(): void {
    const down = this.#connected === false || this.#breakerOpen
    if (down === this.#down) return
    this.#down = down
    if (down) this.#downSince = this.#now()
    if (down && !this.#told && this.#now() < this.#quietUntil) {
      this.#untold++
      this.#timer ??= setTimeout(() => this.#endOfQuiet(), this.#quietUntil - this.#now())
      this.#timer.unref()
      return
    }
    if (down !== this.#told) this.#tell()
  }

  #endOfQuiet(): void {
    this.#timer = undefined
    if (this.#down && !this.#told) this.#tell()
    else if (!this.#down && this.#untold > 0) {
      this.#log(
        `${this.#subject()} went down ${this.#untold} more time(s) in the last ${seconds(this.#intervalMs)}; it answers now`,
      )
      this.#untold = 0
    }
  }

  #tell(): void {
    if (this.#down) {
      const kind = this.#kind()
      const head =
        kind === 'cannot connect'
          ? `cannot connect to ${this.#subject()}: ${this.#cause()}`
          : kind === 'lost'
            ? `lost the connection to ${this.#subject()}: ${this.#cause()}`
            : `${this.#subject()} is degraded: ${this.#cause()} (${this.#breakerFailures} failure(s) in a row)`
      const more = this.#untold > 1 ? ` (down ${this.#untold} times since the last message)` : ''
      this.#log(`${head}${more}. Requests go on without it; retrying in the background`)
      this.#quietUntil = this.#now() + this.#intervalMs
    } else {
      this.#log(
        `${this.#subject()} answers again (after ${seconds(this.#now() - this.#downSince)})`,
      )
    }
    this.#told = this.#down
    this.#untold = 0
  }

  #kind(): Down {
    if (this.#connected === false) return this.#everConnected ? 'lost' : 'cannot connect'
    return 'degraded'
  }

  #cause(): string {
    if (this.#connected === false && this.#connectionCause !== undefined)
      return this.#connectionCause
    const error = this.#lastError
    if (error === undefined) return this.#connectionCause ?? 'unknown cause'
    return this.#tier.causeOf?.(error) ?? error.message
  }

  #subject(): string {
    const where = this.#tier.location
    return `the shared tier (${this.#tier.name}${where === undefined ? '' : ` at ${where}`})`
  }

  #log(message: string): void {
    if (this.#closed || this.#logger === undefined) return
    try {
      this.#logger.warn(`cachet: ${message}`)
    } catch {
      // A logger that throws must not break the cache.
    }
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}
