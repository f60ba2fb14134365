/** Redis Cluster has this many hash slots. */
export const SLOTS = 16384

const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[i] = crc
  }
  return table
})()

/** The hash slot of a key whose whole name is hashed (CRC16/XMODEM mod 16384, as Redis Cluster). */
export function slotOf(text: string): number {
  let crc = 0
  for (const byte of Buffer.from(text, 'utf8')) {
    crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  }
  return crc % SLOTS
}

/**
 * The hash tags of `n` shards under `prefix`. The first, the home, is always
 * `prefix` itself (the layout of a single Redis, and the one place every
 * process of a prefix meets, whatever its shard count). Cut the slot space
 * into n equal ranges: the home's slot lies in one of them, and each other
 * shard gets one of the others, as `prefix#<j>` with the first j whose slot
 * falls in it. `redis-cli --cluster create` gives each master one contiguous
 * range, so with n a multiple of the masters each master gets n / masters
 * shards. Deterministic: every process with the same prefix and n computes
 * the same tags.
 */
export function shardTags(prefix: string, n: number): string[] {
  const tags = [prefix]
  const home = Math.floor((slotOf(prefix) * n) / SLOTS)
  for (let range = 0; range < n; range++) {
    if (range === home) continue
    const from = Math.ceil((range * SLOTS) / n)
    const to = Math.ceil(((range + 1) * SLOTS) / n)
    for (let j = 0; ; j++) {
      const tag = `${prefix}#${j}`
      const slot = slotOf(tag)
      if (slot >= from && slot < to) {
        tags.push(tag)
        break
      }
    }
  }
  return tags
}
