import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { FileStore } from '../../src/disk/file-store'

// The disk tier's file store on real files in a temporary directory.

let dir: string
const open: FileStore[] = []

function store(maxBytes = 1_000_000): FileStore {
  const s = new FileStore({ dir, maxBytes })
  open.push(s)
  return s
}

async function bytesOnDisk(): Promise<{ files: number; bytes: number }> {
  let files = 0
  let bytes = 0
  for (const name of await readdir(dir)) {
    if (name === '.lock') continue
    files++
    bytes += (await stat(join(dir, name))).size
  }
  return { files, bytes }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cachet-file-store-'))
})

afterEach(async () => {
  for (const s of open.splice(0)) await s.close()
  await rm(dir, { recursive: true, force: true })
})

test('a value is read back byte for byte, and kept across a restart', async () => {
  const body = Buffer.from([0, 1, 2, 255, 10, 13, 0x0a])
  const a = store()
  expect(await a.set('k:1', body)).toBe(true)
  expect(await a.get('k:1')).toEqual(body)
  expect(await a.get('k:2')).toBeUndefined()
  await a.close()

  const b = store()
  expect(await b.get('k:1')).toEqual(body)
  expect(b.size).toBe(1)
})

test('a value past its ttl is a miss, and its file is deleted', async () => {
  const s = store()
  await s.set('short', Buffer.from('x'), 30)
  await s.set('long', Buffer.from('y'), 60_000)
  expect((await bytesOnDisk()).files).toBe(2)
  await sleep(60)
  expect(await s.get('short')).toBeUndefined()
  expect((await s.get('long'))?.toString()).toBe('y')
  expect((await bytesOnDisk()).files).toBe(1)
})

test('bounded in bytes: the least recently used files go first, on disk as in the count', async () => {
  const value = Buffer.alloc(1000, 0x61)
  const s = store(5_500)
  for (let i = 0; i < 5; i++) await s.set(`k${i}`, value)
  // Read k0: now the most recent, so k1 is the first to go.
  expect(await s.get('k0')).toBeDefined()
  await s.set('k5', value)
  await s.set('k6', value)
  expect(await s.get('k1')).toBeUndefined()
  expect(await s.get('k2')).toBeUndefined()
  for (const k of ['k0', 'k3', 'k4', 'k5', 'k6'])
    expect([k, (await s.get(k))?.length]).toEqual([k, 1000])
  const disk = await bytesOnDisk()
  expect(disk.bytes).toBe(s.bytes)
  expect(disk.bytes).toBeLessThanOrEqual(5_500)
  expect(disk.files).toBe(5)
})

test('a restart with a smaller bound evicts the oldest files at once', async () => {
  const a = store()
  for (let i = 0; i < 6; i++) {
    await a.set(`k${i}`, Buffer.alloc(1000))
    await sleep(5) // distinct modification times
  }
  await a.close()
  const b = store(3_200)
  await b.open()
  expect(b.bytes).toBeLessThanOrEqual(3_200)
  expect(await b.get('k0')).toBeUndefined()
  expect(await b.get('k5')).toBeDefined()
  expect((await bytesOnDisk()).bytes).toBe(b.bytes)
})

test('a value larger than the whole bound is refused, and nothing is evicted for it', async () => {
  const s = store(2_000)
  await s.set('small', Buffer.alloc(100))
  expect(await s.set('huge', Buffer.alloc(5_000))).toBe(false)
  expect(await s.get('huge')).toBeUndefined()
  expect(await s.get('small')).toBeDefined()
})

test('overwriting a key counts its bytes once', async () => {
  const s = store()
  await s.set('k', Buffer.alloc(500))
  await s.set('k', Buffer.alloc(200))
  expect(s.size).toBe(1)
  expect(s.bytes).toBe((await bytesOnDisk()).bytes)
  expect((await s.get('k'))?.length).toBe(200)
  expect(await s.delete('k')).toBe(true)
  expect(await s.delete('k')).toBe(false)
  expect(s.bytes).toBe(0)
})

test('a corrupt file and left-over temporary files are misses, cleaned up', async () => {
  const a = store()
  await a.set('k', Buffer.from('v'))
  await a.close()
  const [name] = (await readdir(dir)).filter((n) => n !== '.lock')
  await writeFile(join(dir, name as string), 'not a header')
  await writeFile(join(dir, `${name}.123.1.tmp`), 'half a write')
  const b = store()
  expect(await b.get('k')).toBeUndefined()
  expect(await readdir(dir)).toEqual(['.lock'])
})

test('one process per directory: a live holder is refused by name, a dead one is taken over', async () => {
  const a = store()
  await a.open()
  await expect(store().open()).rejects.toThrow(
    `store.l3: the directory ${dir} is in use by process ${process.pid} (one process per directory)`,
  )
  await a.close()

  // A lock left by a process that has exited.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  await writeFile(join(dir, '.lock'), gone.stdout.toString())
  const b = store()
  await b.set('k', Buffer.from('v'))
  expect((await b.get('k'))?.toString()).toBe('v')

  // A lock with this process's pid that no store here holds: left by an
  // earlier process with the same pid (a restarted container's pid 1).
  await b.close()
  await writeFile(join(dir, '.lock'), String(process.pid))
  const c = store()
  expect(await c.get('k')).toBeDefined()

  // A lock held by another live process (the test's parent).
  await c.close()
  await writeFile(join(dir, '.lock'), String(process.ppid))
  await expect(store().open()).rejects.toThrow(`in use by process ${process.ppid}`)
})

test('the same directory by another name (a trailing slash, a symlink) is the same lock', async () => {
  const a = store()
  await a.open()
  await expect(new FileStore({ dir: `${dir}/`, maxBytes: 1000 }).open()).rejects.toThrow(
    'in use by process',
  )
  const link = `${dir}-link`
  await symlink(dir, link)
  try {
    await expect(new FileStore({ dir: link, maxBytes: 1000 }).open()).rejects.toThrow(
      `the directory ${dir} is in use by process ${process.pid}`,
    )
  } finally {
    await rm(link, { force: true })
  }
})

test('a lock from another host is refused, naming the host and the file to delete', async () => {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, '.lock'), `1 another-host`)
  await expect(store().open()).rejects.toThrow(
    `is held by process 1 on host another-host (one process per directory; if that host is gone, delete ${join(dir, '.lock')})`,
  )
  // This host's own lock format is read back the same way.
  await writeFile(join(dir, '.lock'), `${process.ppid} ${hostname()}`)
  await expect(store().open()).rejects.toThrow(`in use by process ${process.ppid}`)
})

test('operations on one key run in the order called, whatever the disk timing', async () => {
  const s = store()
  const writes = Array.from({ length: 20 }, (_, i) => s.set('k', Buffer.from(`v${i}`)))
  const deleting = s.delete('k')
  const after = s.set('other', Buffer.from('x'))
  await Promise.all([...writes, deleting, after])
  expect(await s.get('k')).toBeUndefined()
  expect(s.size).toBe(1)
  expect(await bytesOnDisk()).toEqual({ files: 1, bytes: s.bytes })

  const again = Array.from({ length: 20 }, (_, i) => s.set('k', Buffer.from(`w${i}`)))
  await Promise.all(again)
  expect((await s.get('k'))?.toString()).toBe('w19')
})

test('a directory that could not be opened is never read or written', async () => {
  await writeFile(join(dir, '.lock'), `1 another-host`)
  const s = store()
  await expect(s.set('k', Buffer.from('v'))).rejects.toThrow('another-host')
  await expect(s.get('k')).rejects.toThrow('another-host')
  expect(s.refused?.message).toContain('another-host')
  expect(await readdir(dir)).toEqual(['.lock'])
})
