import type { ResponseBypassReason } from '../src/http/storable'
import type { InvalidationPlan } from '../src/invalidation/local-state'
import type { TierOperation } from '../src/observe/events'
import { withDeadline } from '../src/tiers/deadline'
import type {
  CoherenceHooks,
  RemoteFence,
  RemoteRead,
  RemoteTier,
  StoredResponse,
} from '../src/tiers/remote-tier'

/** `ok`: answers; `fail`: rejects at once; `hang`: never answers (a real `withDeadline` cuts it). */
export type Behaviour = 'ok' | 'fail' | 'hang'

/** A promise the test resolves by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/**
 * A shared tier in memory for the engine's unit tests: every call counted,
 * each operation made to fail or hang on demand, writes and reads that can be
 * held back. Entries are kept as written; an invalidation drops those carrying
 * one of its tags. Fill locks are exact; `busy` holds another process's.
 */
export class FakeTier implements RemoteTier {
  readonly name = 'fake'
  readonly coherent: boolean
  isTrusted = true
  readonly entries = new Map<string, StoredResponse>()
  /** Fill locks held by this process's fills. */
  readonly locks = new Set<string>()
  /** Keys whose fill lock another process holds. */
  readonly busy = new Set<string>()
  readonly calls: Record<TierOperation, number> = { read: 0, write: 0, abandon: 0, invalidate: 0 }
  readonly behaviour: Record<TierOperation, Behaviour> = {
    read: 'ok',
    write: 'ok',
    abandon: 'ok',
    invalidate: 'ok',
  }
  /** The deadline of a hanging operation. */
  hangMs = 20
  /** What an `ok` write answers: `false` is a write its fence refused. */
  writeAnswer = true
  /** When set, the next operations of that kind wait for it before answering. */
  readonly gates: Partial<Record<TierOperation, Promise<void>>> = {}
  readonly abandoned: {
    key: string
    marker: { reason: ResponseBypassReason; ms: number } | undefined
  }[] = []
  readonly invalidations: InvalidationPlan[] = []
  hooks: CoherenceHooks | undefined

  constructor(options: { coherent?: boolean } = {}) {
    this.coherent = options.coherent ?? true
  }

  async #run<T>(op: TierOperation, answer: () => T): Promise<T> {
    this.calls[op]++
    const behaviour = this.behaviour[op]
    if (behaviour === 'hang') return withDeadline(op, this.hangMs, new Promise<T>(() => {}))
    const gate = this.gates[op]
    if (gate !== undefined) await gate
    if (behaviour === 'fail') throw new Error(`fake ${op} failed`)
    return answer()
  }

  read(
    key: string,
    _tags: readonly string[],
    options: { lock: boolean; skipEntry?: boolean },
  ): Promise<RemoteRead> {
    return this.#run('read', (): RemoteRead => {
      const response = this.entries.get(key)
      if (response !== undefined && options.skipEntry !== true && Date.now() < response.deleteAt)
        return { kind: 'hit', response, patternsSince: [] }
      if (!options.lock) return { kind: 'miss', fence: { lock: false }, lock: 'none' }
      if (this.busy.has(key) || this.locks.has(key))
        return { kind: 'miss', fence: { lock: false }, lock: 'busy' }
      this.locks.add(key)
      return { kind: 'miss', fence: { lock: true }, lock: 'acquired' }
    })
  }

  write(key: string, response: StoredResponse, fence: RemoteFence): Promise<boolean> {
    return this.#run('write', () => {
      if (fence.lock) this.locks.delete(key)
      if (this.writeAnswer) this.entries.set(key, response)
      return this.writeAnswer
    })
  }

  abandon(
    key: string,
    fence: RemoteFence,
    marker?: { reason: ResponseBypassReason; ms: number },
  ): Promise<void> {
    return this.#run('abandon', () => {
      if (fence.lock) this.locks.delete(key)
      this.abandoned.push({ key, marker })
    })
  }

  invalidate(plan: InvalidationPlan): Promise<void> {
    return this.#run('invalidate', () => {
      this.invalidations.push(plan)
      for (const [key, r] of this.entries)
        if (r.tags.some((t) => plan.tags.includes(t))) this.entries.delete(key)
    })
  }

  trusted(): boolean {
    return this.isTrusted
  }

  async start(hooks: CoherenceHooks): Promise<void> {
    this.hooks = hooks
  }

  async close(): Promise<void> {}
}
