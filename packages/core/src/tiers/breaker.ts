/** `closed`: calls go through. `open`: none do. `half-open`: one probe does. */
export type BreakerState = 'closed' | 'open' | 'half-open'

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failures: number
  /** First pause before a probe; doubled after each failed probe up to `maxCooldownMs`. */
  cooldownMs: number
  maxCooldownMs: number
}

/**
 * A circuit breaker for the shared tier: after `failures` failures in a row it
 * stops calling the tier (each call is refused at once: a miss, not a wait),
 * lets one probe through after a cooldown, and closes on the probe's success.
 * A failed probe opens it again with twice the cooldown. Synchronous and
 * timer-free: time is passed in.
 */
export class CircuitBreaker {
  readonly #options: BreakerOptions
  readonly #onChange: (state: BreakerState, previous: BreakerState, failures: number) => void
  #state: BreakerState = 'closed'
  #failures = 0
  #cooldownMs: number
  #openUntil = 0
  #probing = false
  #probeStartedAt = 0
  /** Calls refused while open. */
  rejected = 0
  /** Times the breaker opened. */
  opened = 0

  constructor(
    options: BreakerOptions,
    onChange: (state: BreakerState, previous: BreakerState, failures: number) => void,
  ) {
    this.#options = options
    this.#onChange = onChange
    this.#cooldownMs = options.cooldownMs
  }

  get state(): BreakerState {
    return this.#state
  }

  /** Whether a call may go to the tier now; in half-open, only the first caller (the probe). */
  allow(now: number): boolean {
    if (this.#state === 'closed') return true
    if (this.#state === 'open' && now >= this.#openUntil) this.#set('half-open')
    // A probe that never reported (it cannot, with deadlines; but never get
    // stuck half-open) is replaced after the longest cooldown.
    if (
      this.#state === 'half-open' &&
      (!this.#probing || now - this.#probeStartedAt > this.#options.maxCooldownMs)
    ) {
      this.#probing = true
      this.#probeStartedAt = now
      return true
    }
    this.rejected++
    return false
  }

  /**
   * Other evidence says the tier answers again (its bus renewed a lease): end
   * the cooldown, so that the next call is the probe.
   */
  probeNow(now: number): void {
    if (this.#state === 'open' && this.#openUntil > now) this.#openUntil = now
  }

  success(): void {
    this.#failures = 0
    this.#probing = false
    this.#cooldownMs = this.#options.cooldownMs
    if (this.#state !== 'closed') this.#set('closed')
  }

  failure(now: number): void {
    this.#failures++
    if (this.#state === 'half-open') {
      this.#probing = false
      this.#cooldownMs = Math.min(this.#cooldownMs * 2, this.#options.maxCooldownMs)
      this.#open(now)
    } else if (this.#state === 'closed' && this.#failures >= this.#options.failures) {
      this.#open(now)
    }
  }

  #open(now: number): void {
    this.#openUntil = now + this.#cooldownMs
    this.opened++
    this.#set('open')
  }

  #set(state: BreakerState): void {
    const previous = this.#state
    this.#state = state
    this.#onChange(state, previous, this.#failures)
  }
}
