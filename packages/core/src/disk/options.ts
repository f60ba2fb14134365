import { isAbsolute, resolve } from 'node:path'
import { CachetConfigError, describeValue } from '../errors'
import { KeyvTier } from '../keyv/keyv-tier'
import type { KeyvStore } from '../keyv/options'
import { parseSize, type Size } from '../options/units'
import { unknownOption } from '../options/unknown-option'
import type { RemoteTier } from '../tiers/remote-tier'
import { DiskLayer } from './disk-layer'
import { type DiskStore, FileDiskStore, FileKeyv, KeyvDiskStore } from './disk-store'

/**
 * `store.l3`: a disk tier (issue #19), kept across restarts. Either `dir`, a
 * directory this process owns (the built-in file store, bounded by
 * `maxBytes`), or `keyv`, a Keyv store such as `@keyv/sqlite` (bounded by
 * the store; one process's, see docs/disk-tier.md).
 */
export type DiskTierOptions =
  | {
      /** The directory (created if missing; relative to the working directory). */
      dir: string
      /** Bytes on disk at most, least recently used evicted first. Default `'256MiB'`. */
      maxBytes?: Size
    }
  | {
      /** A Keyv instance (`new Keyv(new KeyvSqlite('sqlite://cache.db'))`); cachet never closes it. */
      keyv: KeyvStore
    }

const MIN_BYTES = 1024

function fail(option: string, problem: string): never {
  throw new CachetConfigError('CACHET_INVALID_OPTION', `option "store.l3${option}": ${problem}`)
}

/**
 * The shared tier the engine uses with `store.l3`: below `l2` (which must
 * seal copies: the Redis tier), a `DiskLayer`; without `l2`, the disk is the
 * shared tier itself, a Keyv tier on the disk store that only this process
 * writes (tag versions and the pattern log persisted beside the entries).
 */
export function withDiskTier(l3: unknown, l2: RemoteTier | undefined): RemoteTier | undefined {
  if (l3 === undefined) return l2
  if (typeof l3 !== 'object' || l3 === null || Array.isArray(l3))
    fail('', `expected { dir } or { keyv }, got ${describeValue(l3)}`)
  const o = l3 as Record<string, unknown>
  const known = 'keyv' in o ? ['keyv'] : ['dir', 'maxBytes']
  for (const key of Object.keys(o))
    if (!known.includes(key))
      throw new CachetConfigError('CACHET_INVALID_OPTION', unknownOption(key, known, 'store.l3.'))
  const disk = diskStore(o)
  if (l2 !== undefined) {
    if (typeof l2.seal !== 'function' || typeof l2.unseal !== 'function') {
      fail(
        '',
        `the ${l2.name} tier in store.l2 cannot check copies on disk against its tag versions; use redisTier(...) as store.l2, or store.l3 alone`,
      )
    }
    return new DiskLayer(l2, disk)
  }
  const store = disk instanceof FileDiskStore ? new FileKeyv(disk) : (o.keyv as KeyvStore)
  return new KeyvTier(
    { store },
    {
      name: 'disk',
      coherent: disk instanceof FileDiskStore,
      unusable: () => disk instanceof FileDiskStore && disk.unusable,
      open: () => disk.open(),
      close: () => disk.close(),
      stats: () => ({
        store: disk.kind,
        below: false,
        entries: disk.size,
        bytes: disk.bytes,
        maxBytes: disk.maxBytes,
      }),
    },
  )
}

function diskStore(o: Record<string, unknown>): DiskStore {
  if ('keyv' in o) {
    const keyv = o.keyv as { get?: unknown; set?: unknown; delete?: unknown; hooks?: unknown }
    if (
      typeof keyv !== 'object' ||
      keyv === null ||
      typeof keyv.get !== 'function' ||
      typeof keyv.set !== 'function' ||
      typeof keyv.delete !== 'function' ||
      typeof keyv.hooks !== 'object'
    ) {
      fail('.keyv', `expected a Keyv instance (new Keyv(...)), got ${describeValue(keyv)}`)
    }
    return new KeyvDiskStore(o.keyv as KeyvStore)
  }
  if (typeof o.dir !== 'string' || o.dir.trim() === '')
    fail('.dir', `expected the path of a directory, got ${describeValue(o.dir)}`)
  const maxBytes = parseSize(o.maxBytes ?? '256MiB')
  if (typeof maxBytes === 'string') fail('.maxBytes', maxBytes)
  if (maxBytes < MIN_BYTES) fail('.maxBytes', `expected at least 1KiB, got ${maxBytes} bytes`)
  return new FileDiskStore(isAbsolute(o.dir) ? o.dir : resolve(o.dir), maxBytes)
}
