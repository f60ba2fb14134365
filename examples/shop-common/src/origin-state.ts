import { setTimeout as sleep } from 'node:timers/promises'

// What the tests observe of the origin: how often each handler ran, and the
// switch that makes every handler fail (for stale-if-error). One instance per
// app, so two shops in one test process never share counts.

// A route key is `METHOD /pattern`, e.g. `GET /products/:id`.
export type RouteKey = string

export interface OriginCalls {
  total: number
  byRoute: Record<RouteKey, number>
}

export class OriginState {
  #total = 0
  #byRoute = new Map<RouteKey, number>()
  #failing = false

  // Called first thing by every contract route handler, before any delay, so a
  // request that is still waiting already counts.
  count(route: RouteKey): void {
    this.#total++
    this.#byRoute.set(route, (this.#byRoute.get(route) ?? 0) + 1)
  }

  // A snapshot; only routes that ran appear in `byRoute`.
  calls(): OriginCalls {
    return { total: this.#total, byRoute: Object.fromEntries(this.#byRoute) }
  }

  callsOf(route: RouteKey): number {
    return this.#byRoute.get(route) ?? 0
  }

  // Zeroes the counters only; the failing switch and the data stay as they are.
  reset(): void {
    this.#total = 0
    this.#byRoute.clear()
  }

  get failing(): boolean {
    return this.#failing
  }

  setFailing(failing: boolean): void {
    this.#failing = failing
  }
}

export function createOriginState(): OriginState {
  return new OriginState()
}

// Resolves after `ms` milliseconds; at once for 0 or less, without a timer turn,
// so the default configuration adds no latency.
export async function delay(ms: number): Promise<void> {
  if (ms > 0) await sleep(ms)
}
