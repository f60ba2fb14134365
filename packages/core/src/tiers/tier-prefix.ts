import { CachetConfigError } from '../errors'

/** What the engine tells the shared tier it takes (`RemoteTier.attach`). */
export interface TierScope {
  /** The engine's `namespace` (`'cachet'` when not set). */
  readonly namespace: string
  /** Whether the app set `namespace` itself. */
  readonly explicit: boolean
}

function refuse(message: string): never {
  throw new CachetConfigError('CACHET_INVALID_OPTION', message)
}

/**
 * The prefix of everything a shared tier writes (entries, tag versions, the
 * pattern log, locks, and for Redis the bus, leases and top URLs): the tier's
 * own `prefix` when given, else the namespace of the engine it serves. Both
 * default to `'cachet'`, so an app that sets neither keeps the `{cachet}`
 * layout. Fixed on first use: a tier serves one namespace, and a namespace
 * set on the app that contradicts the tier's own prefix is refused rather
 * than silently ignored (one knob, one meaning).
 */
export class TierPrefix {
  readonly #factory: string
  readonly #given: string | undefined
  #namespace: string | undefined
  #fixed: string | undefined

  /** `given`: the tier's validated `prefix` option, if it had one. */
  constructor(factory: string, given: string | undefined) {
    this.#factory = factory
    this.#given = given
  }

  attach({ namespace, explicit }: TierScope): void {
    const tier = `${this.#factory}(...)`
    if (this.#given !== undefined && explicit && namespace !== this.#given) {
      refuse(
        `option "namespace": "${namespace}" disagrees with ${this.#factory}({ prefix: "${this.#given}" }): the tier's prefix names its keys, tags and bus, the namespace the app's; set one of them, or both to the same value`,
      )
    }
    if (this.#namespace !== undefined && this.#namespace !== namespace) {
      refuse(
        `option "namespace": "${namespace}": this ${tier} is already attached to namespace "${this.#namespace}"; a tier serves one namespace, give each its own ${tier}`,
      )
    }
    if (this.#given === undefined && this.#fixed !== undefined && this.#fixed !== namespace) {
      refuse(
        `option "namespace": "${namespace}": this ${tier} is already in use under prefix "${this.#fixed}"; attach it to the cache before using it`,
      )
    }
    this.#namespace = namespace
  }

  /** The prefix, fixed from now on. */
  get value(): string {
    this.#fixed ??= this.#given ?? this.#namespace ?? 'cachet'
    return this.#fixed
  }
}
