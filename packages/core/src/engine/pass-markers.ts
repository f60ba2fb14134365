import type { ResponseBypassReason } from '../http/storable'

interface Marker {
  readonly reason: ResponseBypassReason
  readonly until: number
  /** Pass: don't even capture. Otherwise miss without waiting behind another request. */
  readonly pass: boolean
}

/**
 * After a response that could not be stored, Varnish-style markers stop the
 * next requests for that key from queueing behind one another ("hit-for-miss"),
 * and a body over the size cap is not captured again for a while
 * ("hit-for-pass"). Bounded: the oldest markers go first.
 */
export class PassMarkers {
  readonly #markers = new Map<string, Marker>()
  readonly #max: number

  constructor(max = 10_000) {
    this.#max = max
  }

  get(key: string, now: number): Marker | undefined {
    const m = this.#markers.get(key)
    if (m !== undefined && now >= m.until) {
      this.#markers.delete(key)
      return undefined
    }
    return m
  }

  set(key: string, reason: ResponseBypassReason, until: number): void {
    this.#markers.delete(key)
    this.#markers.set(key, { reason, until, pass: reason === 'too-large' })
    if (this.#markers.size > this.#max) {
      const oldest = this.#markers.keys().next().value
      if (oldest !== undefined) this.#markers.delete(oldest)
    }
  }

  delete(key: string): void {
    this.#markers.delete(key)
  }
}
