import { resolveCdn } from '../../src/cdn/options'
import type { PurgeBatch, PurgeResult, Purger } from '../../src/cdn/purger'
import { CacheEngine } from '../../src/engine/engine'
import { replay } from '../../src/engine/replay'
import type { CacheRule, CompiledCacheRule } from '../../src/rules/types'
import { FakeTier } from '../fake-tier'
import { FakeOrigin, makeEntry, request, sleep } from '../support'

// The engine's side of the CDN, around a fake shared tier and a recording
// purger (the real purgers and the HTTP flow are tested in test/cdn): when a
// purge is queued, and what a replayed copy tells the CDN.

class RecordingPurger implements Purger {
  readonly name = 'recording'
  readonly maxTags = 100
  readonly maxPaths = 0
  readonly soft = false
  readonly batches: PurgeBatch[] = []
  async send(batch: PurgeBatch): Promise<PurgeResult> {
    this.batches.push({ tags: [...batch.tags], paths: [...batch.paths] })
    return { ok: true, status: 200 }
  }
}

const rules: CacheRule[] = [{ path: '/p/:id', ttl: 60, tags: ['p:{params.id}'] }]

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await sleep(10)
  expect(done()).toBe(true)
}

test('a deferred invalidation purges the CDN only once the shared tier has recorded it', async () => {
  const tier = new FakeTier()
  const purger = new RecordingPurger()
  const engine = new CacheEngine({
    rules,
    store: { l2: tier },
    onInvalidationFailure: 'defer',
    cdn: { provider: 'fastly', purger, purge: { perSecond: 100 } },
  })
  await engine.start()
  const origin = new FakeOrigin()
  await request(engine, origin, '/p/1')
  tier.behaviour.invalidate = 'fail'
  const record = await engine.invalidate({ tags: ['p:1'] })
  expect(record.deferred).toBe(true)
  await sleep(100)
  // Redis still holds the old copy: purging now would let the CDN fetch it again.
  expect(purger.batches).toEqual([])
  tier.behaviour.invalidate = 'ok'
  await until(() => purger.batches.length === 1)
  expect(purger.batches[0]?.tags).toEqual(['p:1'])
  expect(tier.invalidations.at(-1)?.tags).toContain('p:1')
  await engine.close()
})

test('a refused invalidation (reject) still purges: the caller retries, and a purge costs a refetch', async () => {
  const tier = new FakeTier()
  const purger = new RecordingPurger()
  const engine = new CacheEngine({
    rules,
    store: { l2: tier },
    cdn: { provider: 'fastly', purger, purge: { perSecond: 100 } },
  })
  await engine.start()
  tier.behaviour.invalidate = 'fail'
  await expect(engine.invalidate({ tags: ['p:2'] })).rejects.toThrow()
  await until(() => purger.batches.length === 1)
  await engine.close()
})

describe('a replayed copy and the CDN', () => {
  const config = resolveCdn({ provider: 'fastly', ttl: '1h', purger: new RecordingPurger() })
  if (config === undefined) throw new Error('no config')
  const out = {
    cdn: { config, ttlValue: 'max-age=3600' },
  } as Pick<CompiledCacheRule, 'cdn'>
  const entry = makeEntry({
    tags: ['p:1'],
    headers: [
      'content-type',
      'text/plain',
      'surrogate-key',
      'origin-key',
      'surrogate-control',
      'max-age=5',
    ],
  })
  const values = (headers: string[], name: string) =>
    headers.flatMap((h, i) => (i % 2 === 0 && h === name ? [headers[i + 1]] : []))

  test('a fresh copy: the rule’s tags and lifetime, in place of any the route sent', () => {
    const r = replay(entry, 1000, undefined, false, undefined, out)
    expect(values(r.headers, 'surrogate-key')).toEqual(['p:1'])
    expect(values(r.headers, 'surrogate-control')).toEqual(['max-age=3600'])
  })

  test('a stale copy: the CDN may not keep it (its lifetime 0)', () => {
    const r = replay(entry, 70_000, undefined, false, { reason: 'revalidate' }, out)
    expect(values(r.headers, 'x-cache')).toEqual(['STALE'])
    expect(values(r.headers, 'surrogate-key')).toEqual(['p:1'])
    expect(values(r.headers, 'surrogate-control')).toEqual(['max-age=0'])
  })
})
