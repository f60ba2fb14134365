/**
 * The pattern invalidations of a Keyv tier: `<prefix>:pseq`, the sequence of
 * the last one, and `<prefix>:plog`, the log of the latest, appended by
 * read-modify-write (see keyv-tier.ts for what that cannot promise).
 */
import { randomInt } from 'node:crypto'
import type { KeyvKeyspace } from './keyspace'
import type { KeyvStore } from './options'

/** `<prefix>:plog`: the sequence just before the first item, then `[sequence, pattern]` pairs. */
export interface PatternLogRecord {
  from: number
  items: Array<[number, string]>
}

/** A fresh log starts at a random sequence, so no entry of an older log can match it. */
export const newBase = () => randomInt(0, 2 ** 40)
const step = () => randomInt(1, 65_537)

export function toSeq(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined
}

export function parseLog(value: unknown): PatternLogRecord | undefined {
  if (typeof value !== 'string') return undefined
  try {
    const log = JSON.parse(value) as PatternLogRecord
    if (toSeq(log.from) === undefined || !Array.isArray(log.items)) return undefined
    return log
  } catch {
    return undefined
  }
}

export const lastSeq = (log: PatternLogRecord) => log.items.at(-1)?.[0] ?? log.from

/** The patterns logged after `seq`; `undefined` when `seq` is not in the log (not all known). */
export function patternsAfter(log: PatternLogRecord, seq: number): string[] | undefined {
  if (seq !== log.from && !log.items.some((item) => item[0] === seq)) return undefined
  return log.items.filter((item) => item[0] > seq).map((item) => item[1])
}

/**
 * Appends `patterns` to the log, keeping its last `size`, then moves the
 * sequence to the last one's; re-reads the log and tries again (three times
 * in all) when another process's append overwrote this one.
 */
export async function appendPatterns(
  store: KeyvStore,
  k: KeyvKeyspace,
  patterns: readonly string[],
  size: number,
): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [pseqRaw, logRaw] = (await store.get([k.patternSeq, k.patternLog])) as unknown[]
    const log = parseLog(logRaw) ?? { from: toSeq(pseqRaw) ?? newBase(), items: [] }
    let seq = lastSeq(log)
    const items = [...log.items]
    for (const p of patterns) {
      seq += step()
      items.push([seq, p])
    }
    const dropped = items.length - size
    const next: PatternLogRecord = {
      from: dropped > 0 ? (items[dropped - 1] as [number, string])[0] : log.from,
      items: dropped > 0 ? items.slice(dropped) : items,
    }
    // The log first: a reader that sees the new sequence finds it in the log.
    if (!(await store.set(k.patternLog, JSON.stringify(next))))
      throw new Error('the store did not accept the pattern log')
    if (!(await store.set(k.patternSeq, seq)))
      throw new Error('the store did not accept the pattern sequence')
    // Another process may have rewritten the log from the same old copy: check, repair.
    const back = parseLog(await store.get(k.patternLog))
    if (back?.items.some((item) => item[0] === seq && item[1] === patterns.at(-1))) return
  }
  throw new Error('the pattern log kept being overwritten by concurrent invalidations')
}
