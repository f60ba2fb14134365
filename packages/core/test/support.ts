import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { CacheEngine, Lookup } from '../src/engine/engine'
import { type Exchange, splitUrl } from '../src/engine/exchange'
import type { Fill } from '../src/engine/fill'
import type { CacheEntry } from '../src/entry/entry'
import { compileRule } from '../src/rules/compile-rule'
import type { CacheRule, CompiledCacheRule, RuleMatch } from '../src/rules/types'

/** Compiles one cache rule (path `/r`, ttl 60 s unless given). */
export function cacheRule(rule: Partial<CacheRule> = {}): CompiledCacheRule {
  const compiled = compileRule({ path: '/r', ttl: 60, ...rule }, 0, {})
  if (compiled.kind !== 'cache') throw new Error('expected a cache rule')
  return compiled
}

/** What `fn` threw; fails when it did not throw. */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a throw, but nothing was thrown')
}

export function makeEntry(over: Partial<CacheEntry> = {}): CacheEntry {
  return {
    key: 'k',
    status: 200,
    headers: [],
    body: Buffer.alloc(0),
    etag: undefined,
    cachedAt: 0,
    staleAt: 60_000,
    deleteAt: 60_000,
    tags: [],
    tagVersions: [],
    expireVersions: [],
    path: '/',
    patternSeq: 0,
    validatedEpoch: 0,
    size: 300,
    ...over,
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface OriginResponse {
  status?: number
  headers?: OutgoingHttpHeaders
  /** One string, or the chunks of the body. Default `v<call number>`. */
  body?: string | readonly string[]
}

/**
 * The origin of the tests. Each call is counted; unless told otherwise it
 * answers 200 with the body `v<n>` (n = its call number), so a test can tell
 * which origin call a hit replays. It drives a miss's `Fill` as an adapter does.
 */
export class FakeOrigin {
  calls = 0

  /** Runs the origin once and, for a miss, records the response into the fill. */
  serve(fill: Fill | undefined, res: OriginResponse = {}): string {
    return this.open(fill, res)()
  }

  /** Starts an origin call whose response is only sent when the returned function runs. */
  open(fill: Fill | undefined, res: OriginResponse = {}): () => string {
    this.calls++
    const raw = res.body ?? `v${this.calls}`
    const chunks = typeof raw === 'string' ? [raw] : raw
    return () => {
      if (fill !== undefined) {
        fill.onHeaders(res.status ?? 200, res.headers ?? {})
        for (const c of chunks) fill.onChunk(Buffer.from(c))
        fill.onEnd()
      }
      return chunks.join('')
    }
  }
}

export interface RequestOptions {
  method?: string
  headers?: IncomingHttpHeaders
  user?: string
  respond?: OriginResponse
}

/** The exchange and cache-rule match of a request, as an adapter would build them. */
export function exchangeFor(
  engine: CacheEngine,
  url: string,
  opts: RequestOptions = {},
): { ex: Exchange; m: RuleMatch<CompiledCacheRule> } {
  const method = opts.method ?? 'GET'
  const { path, rawQuery } = splitUrl(url)
  const ex: Exchange = { method, path, rawQuery, headers: opts.headers ?? {}, user: opts.user }
  const m = engine.match(method, path)
  if (m === undefined || m.rule.kind !== 'cache') throw new Error(`no cache rule for ${url}`)
  return { ex, m: { rule: m.rule, params: m.params } }
}

/** Starts a lookup for `url`; a hit, a bypass, a miss, or a promise of one (a waiter). */
export function lookup(
  engine: CacheEngine,
  url: string,
  opts: RequestOptions = {},
): Lookup | Promise<Lookup> {
  const { ex, m } = exchangeFor(engine, url, opts)
  return engine.lookup(m, ex)
}

export interface Outcome {
  /** `hit`, `stale:<reason>`, `miss`, `bypass:<reason>`, `unavailable`, `write` or `no-rule`. */
  outcome: string
  body: string
}

/** Finishes a lookup the way an adapter does: a miss or bypass calls the origin. */
export function finish(l: Lookup, origin: FakeOrigin, respond?: OriginResponse): Outcome {
  if (l.type === 'hit') return { outcome: 'hit', body: l.entry.body.toString() }
  if (l.type === 'stale') return { outcome: `stale:${l.reason}`, body: l.entry.body.toString() }
  if (l.type === 'bypass')
    return { outcome: `bypass:${l.reason}`, body: origin.serve(undefined, respond) }
  if (l.type === 'unavailable' || l.type === 'timeout') return { outcome: l.type, body: '' }
  return { outcome: 'miss', body: origin.serve(l.fill, respond) }
}

/** One whole request through the engine and the fake origin. */
export async function request(
  engine: CacheEngine,
  origin: FakeOrigin,
  url: string,
  opts: RequestOptions = {},
): Promise<Outcome> {
  const method = opts.method ?? 'GET'
  const { path, rawQuery } = splitUrl(url)
  const ex: Exchange = { method, path, rawQuery, headers: opts.headers ?? {}, user: opts.user }
  const m = engine.match(method, path)
  if (m === undefined) return { outcome: 'no-rule', body: origin.serve(undefined, opts.respond) }
  if (m.rule.kind === 'invalidate') {
    const body = origin.serve(undefined, opts.respond)
    const status = opts.respond?.status ?? 200
    if (status >= 200 && status < 300) {
      await engine.invalidateAfterWrite({ rule: m.rule, params: m.params }, ex)
    }
    return { outcome: 'write', body }
  }
  const l = await engine.lookup({ rule: m.rule, params: m.params }, ex)
  return finish(l, origin, opts.respond)
}
