import { createHash } from 'node:crypto'
import {
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
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
 * - **One process per directory**: `open()` takes `.lock` (holding the pid
 *   and the host name) and refuses a directory a live process holds, or one
 *   held from another host (its liveness cannot be checked from here). A
 *   lock left by a process of this host that is gone is taken over. The
 *   directory is named by its real path, so `dir/` and a symlink to it are
 *   the same directory.
 * - **One operation at a time per key**, in the order they were called (a
 *   delete after a set leaves nothing, whatever the disk's timing).
 * - **Expiry**: a value past its time is a miss, and its file is deleted.
 */
export interface FileStoreOptions {
  /** The directory, created if missing. */
  readonly dir: string
  /** Bytes on disk at most (the files' sizes). */
  readonly maxBytes: number
}

const LOCK = '.lock'
/** Files stat'ed at once when a store opens. */
const SCAN_PARALLEL = 16
const NAME = /^[0-9a-f]{40}$/
/**
 * The directories this process holds. A lock with this process's own pid
 * and no entry here was left by an earlier process that had the same pid
 * (a container's pid 1, restarted): it is taken over.
 */
const held = new Set<string>()

export class FileStore {
  #dir: string
  readonly #maxBytes: number
  /** Per file name, the last operation called on it: the next one waits for it. */
  readonly #queues = new Map<string, Promise<unknown>>()
  /** File name → its size, least recently used first. */
  readonly #files = new Map<string, number>()
  #bytes = 0
  #opened: Promise<void> | undefined
  #closed = false
  #refused: Error | undefined
  /** Operations under way: `close()` waits for them before it gives up the lock. */
  readonly #busy = new Set<Promise<unknown>>()
  #tmp = 0

  constructor(options: FileStoreOptions) {
    this.#dir = resolve(options.dir)
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
    this.#opened ??= this.#open().catch((err: Error) => {
      this.#refused = err
      throw err
    })
    return this.#opened
  }

  /** Why the directory could not be opened (held by another process...), if it could not. */
  get refused(): Error | undefined {
    return this.#refused
  }

  async #open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    this.#dir = await realpath(this.#dir)
    await this.#lock()
    const found: Array<{ name: string; size: number; at: number }> = []
    const names = await readdir(this.#dir)
    // A bounded number of files at a time: a large directory opens quickly
    // without holding thousands of file operations at once.
    let next = 0
    const scan = async () => {
      while (next < names.length) {
        const name = names[next++] as string
        const path = join(this.#dir, name)
        if (name.endsWith('.tmp')) await unlink(path).catch(() => {})
        else if (NAME.test(name)) {
          const s = await stat(path).catch(() => undefined)
          if (s?.isFile()) found.push({ name, size: s.size, at: s.mtimeMs })
        }
      }
    }
    await Promise.all(Array.from({ length: SCAN_PARALLEL }, scan))
    found.sort((a, b) => a.at - b.at)
    for (const f of found) this.#count(f.name, f.size)
    await this.#evict()
  }

  async #lock(): Promise<void> {
    const path = join(this.#dir, LOCK)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx')
        await handle.writeFile(`${process.pid} ${hostname()}`)
        await handle.close()
        held.add(this.#dir)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const [first = '', host = hostname()] = (await readFile(path, 'utf8').catch(() => ''))
        .trim()
        .split(' ')
      const pid = Number(first)
      if (host !== hostname()) {
        throw new CachetConfigError(
          'CACHET_INVALID_OPTION',
          `store.l3: the directory ${this.#dir} is held by process ${first} on host ${host} (one process per directory; if that host is gone, delete ${path})`,
        )
      }
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
    return this.#run(key, () => this.#get(key))
  }

  /** Stores `value` for `ttlMs` (none: until evicted); `false` when it alone exceeds `maxBytes`. */
  set(key: string, value: Buffer, ttlMs?: number): Promise<boolean> {
    return this.#run(key, () => this.#set(key, value, ttlMs))
  }

  delete(key: string): Promise<boolean> {
    return this.#run(key, () => this.#delete(key))
  }

  /**
   * Runs one operation on `key` once the previous one on it has ended,
   * counted until it ends; refused once the store is closed.
   */
  #run<T>(key: string, op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`the disk store in ${this.#dir} is closed`))
    const name = nameOf(key)
    // After the previous operation on the key, however it ended; never on a
    // directory that could not be opened (taken).
    const before = this.#queues.get(name) ?? Promise.resolve()
    const p = before.then(() => this.open()).then(op)
    const done = p.catch(() => {})
    this.#queues.set(name, done)
    this.#busy.add(done)
    done.finally(() => {
      this.#busy.delete(done)
      if (this.#queues.get(name) === done) this.#queues.delete(name)
    })
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
    try {
      await writeFile(tmp, Buffer.concat([head, value]))
      await rename(tmp, join(this.#dir, name))
    } catch (err) {
      // A full disk, a permission: no partial file is left behind, uncounted.
      await unlink(tmp).catch(() => {})
      throw err
    }
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
    // Unless set again meanwhile (a set's file is counted once renamed in place).
    await Promise.all(
      doomed.map((name) =>
        this.#files.has(name) ? undefined : unlink(join(this.#dir, name)).catch(() => {}),
      ),
    )
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
