import { createHash } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CachetConfigError } from '../errors'

/**
 * The disk tier's built-in store (issue #19, `store.l3`): one file per key
 * in a directory this process owns, bounded in bytes, kept across restarts.
 *
 * - **A file per key**, named by a hash of the key. It holds one line of
 *   JSON (`{"k": key, "e": expiresAt}`, 0 for never) and then the value.
 *   Writes go to a temporary file renamed over the old one, so a reader (or
 *   a crash) sees the old value or the new one, never half of one.
 * - **Bounded in bytes** (the files' sizes): past `maxBytes`, the least
 *   recently used files are deleted. The order is kept in memory; after a
 *   restart it starts from the files' modification times.
 * - **One process per directory**: `open()` takes `.lock` (holding the pid)
 *   and refuses a directory a live process holds. A lock left by a process
 *   that is gone is taken over.
 * - **Expiry**: a value past its time is a miss, and its file is deleted.
 */
export interface FileStoreOptions {
  /** The directory, created if missing. */
  readonly dir: string
  /** Bytes on disk at most (the files' sizes). */
  readonly maxBytes: number
}

const LOCK = '.lock'
const NAME = /^[0-9a-f]{40}$/
/**
 * The directories this process holds. A lock with this process's own pid
 * and no entry here was left by an earlier process that had the same pid
 * (a container's pid 1, restarted): it is taken over.
 */
const held = new Set<string>()

export class FileStore {
  readonly #dir: string
  readonly #maxBytes: number
  /** File name → its size, least recently used first. */
  readonly #files = new Map<string, number>()
  #bytes = 0
  #opened: Promise<void> | undefined
  #closed = false
  /** Operations under way: `close()` waits for them before it gives up the lock. */
  readonly #busy = new Set<Promise<unknown>>()
  #tmp = 0

  constructor(options: FileStoreOptions) {
    this.#dir = options.dir
    this.#maxBytes = options.maxBytes
  }

  /** Bytes the store's files hold now. */
  get bytes(): number {
    return this.#bytes
  }

  /** Files the store holds now. */
  get size(): number {
    return this.#files.size
  }

  /** Takes the directory (its lock) and counts what is in it; once. */
  open(): Promise<void> {
    this.#opened ??= this.#open()
    return this.#opened
  }

  async #open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    await this.#lock()
    const found: Array<{ name: string; size: number; at: number }> = []
    for (const name of await readdir(this.#dir)) {
      const path = join(this.#dir, name)
      if (name.endsWith('.tmp')) {
        await unlink(path).catch(() => {})
        continue
      }
      if (!NAME.test(name)) continue
      const s = await stat(path).catch(() => undefined)
      if (s?.isFile()) found.push({ name, size: s.size, at: s.mtimeMs })
    }
    found.sort((a, b) => a.at - b.at)
    for (const f of found) this.#count(f.name, f.size)
    await this.#evict()
  }

  async #lock(): Promise<void> {
    const path = join(this.#dir, LOCK)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx')
        await handle.writeFile(String(process.pid))
        await handle.close()
        held.add(this.#dir)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim())
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid, this.#dir)) {
        throw new CachetConfigError(
          'CACHET_INVALID_OPTION',
          `store.l3: the directory ${this.#dir} is in use by process ${pid} (one process per directory)`,
        )
      }
      // Left by a process that is gone: take it over.
      await unlink(path).catch(() => {})
    }
    throw new CachetConfigError(
      'CACHET_INVALID_OPTION',
      `store.l3: could not take the lock of the directory ${this.#dir}`,
    )
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.#run(() => this.#get(key))
  }

  /** Stores `value` for `ttlMs` (none: until evicted); `false` when it alone exceeds `maxBytes`. */
  set(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    return this.#run(() => this.#set(key, value, ttlMs))
  }

  delete(key: string): Promise<boolean> {
    return this.#run(() => this.#delete(key))
  }

  /** Runs one operation, counted until it ends; refused once the store is closed. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`the disk store in ${this.#dir} is closed`))
    const p = this.open().then(op)
    const done = p.catch(() => {})
    this.#busy.add(done)
    done.finally(() => this.#busy.delete(done))
    return p
  }

  async #get(key: string): Promise<Buffer | undefined> {
    const name = nameOf(key)
    if (!this.#files.has(name)) return undefined
    const data = await readFile(join(this.#dir, name)).catch(() => undefined)
    const value = data === undefined ? undefined : parse(data, key)
    if (value === undefined || (value.expiresAt !== 0 && value.expiresAt <= Date.now())) {
      await this.#delete(key)
      return undefined
    }
    // Used: the most recent now.
    const size = this.#files.get(name)
    if (size !== undefined) {
      this.#files.delete(name)
      this.#files.set(name, size)
    }
    return value.body
  }

  async #set(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    const head = Buffer.from(
      `${JSON.stringify({ k: key, e: ttlMs === undefined ? 0 : Date.now() + ttlMs })}\n`,
    )
    const size = head.length + value.length
    if (size > this.#maxBytes) return false
    const name = nameOf(key)
    const tmp = join(this.#dir, `${name}.${process.pid}.${++this.#tmp}.tmp`)
    await writeFile(tmp, Buffer.concat([head, value]))
    await rename(tmp, join(this.#dir, name))
    this.#uncount(name)
    this.#count(name, size)
    await this.#evict(name)
    return true
  }

  async #delete(key: string): Promise<boolean> {
    const name = nameOf(key)
    const had = this.#uncount(name)
    await unlink(join(this.#dir, name)).catch(() => {})
    return had
  }

  /** Waits for the operations under way, then releases the directory's lock. */
  async close(): Promise<void> {
    this.#closed = true
    while (this.#busy.size > 0) await Promise.all([...this.#busy])
    if (this.#opened === undefined) return
    const opened = await this.#opened.then(
      () => true,
      () => false,
    )
    if (opened) {
      held.delete(this.#dir)
      await unlink(join(this.#dir, LOCK)).catch(() => {})
    }
    this.#opened = undefined
    this.#files.clear()
    this.#bytes = 0
  }

  #count(name: string, size: number): void {
    this.#files.set(name, size)
    this.#bytes += size
  }

  #uncount(name: string): boolean {
    const size = this.#files.get(name)
    if (size === undefined) return false
    this.#files.delete(name)
    this.#bytes -= size
    return true
  }

  /** Deletes the least recently used files until the store fits (`keep` last). */
  async #evict(keep?: string): Promise<void> {
    const doomed: string[] = []
    for (const name of this.#files.keys()) {
      if (this.#bytes <= this.#maxBytes) break
      if (name === keep) continue
      doomed.push(name)
      this.#uncount(name)
    }
    await Promise.all(doomed.map((name) => unlink(join(this.#dir, name)).catch(() => {})))
  }
}

function nameOf(key: string): string {
  return createHash('sha1').update(key).digest('hex')
}

/** A file's value, if it is one this store wrote for `key` (a hash collision is a miss). */
function parse(data: Buffer, key: string): { body: Buffer; expiresAt: number } | undefined {
  const end = data.indexOf(0x0a)
  if (end < 0) return undefined
  try {
    const head = JSON.parse(data.subarray(0, end).toString('utf8')) as { k?: unknown; e?: unknown }
    if (head.k !== key || typeof head.e !== 'number') return undefined
    return { body: data.subarray(end + 1), expiresAt: head.e }
  } catch {
    return undefined
  }
}

function alive(pid: number, dir: string): boolean {
  if (pid === process.pid) return held.has(dir)
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
