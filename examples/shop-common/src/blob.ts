// Deterministic bodies for `/assets/:name` and `/stream/:chunks`: tests compare
// bytes across requests, processes and the two apps, so the content must depend
// on nothing but the URL.

export const MAX_BLOB_BYTES = 64 * 1024 * 1024
export const CHUNK_BYTES = 1024
export const MAX_STREAM_CHUNKS = 100_000

// `size` bytes from a xorshift32 generator seeded by the size: different sizes
// get different content, and no blob is a prefix of another.
export function blobBytes(size: number): Buffer {
  const words = Math.ceil(size / 4)
  const out = new DataView(new ArrayBuffer(words * 4))
  // Mix the size so that small sizes do not start with a run of zero bits; the
  // seed of xorshift must not be 0.
  let state = (Math.imul(size, 0x9e3779b1) ^ 0x2545f491) >>> 0 || 1
  for (let i = 0; i < words; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    // Little-endian on every platform, so the bytes do not depend on the CPU.
    out.setUint32(i * 4, state, true)
  }
  return Buffer.from(out.buffer, 0, size)
}

// The size named by `blob-<bytes>.bin`, or undefined for any other name and for
// sizes above MAX_BLOB_BYTES. Only canonical decimal counts, so one blob has one URL.
export function parseBlobName(name: string | undefined): number | undefined {
  const match = name === undefined ? null : /^blob-(0|[1-9]\d{0,8})\.bin$/.exec(name)
  if (match === null) return undefined
  const size = Number(match[1])
  return size <= MAX_BLOB_BYTES ? size : undefined
}

// Chunk `index` of a stream: exactly CHUNK_BYTES of printable ASCII ending in a
// newline, with the index at the start so a misordered or repeated chunk shows.
export function streamChunk(index: number): Buffer {
  const head = `chunk ${index} `
  const fill = CHUNK_BYTES - head.length - 1
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  let body = ''
  for (let i = 0; i < fill; i++) body += alphabet[(index * 7 + i) % alphabet.length]
  return Buffer.from(`${head}${body}\n`, 'latin1')
}

// All chunks of a stream, one at a time: the app writes each as it is produced.
export function* streamChunks(count: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield streamChunk(i)
}

// The chunk count of `/stream/:chunks`: canonical decimal from 1 to MAX_STREAM_CHUNKS,
// else undefined (the route answers 404).
export function parseChunkCount(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^[1-9]\d{0,5}$/.test(raw)) return undefined
  const count = Number(raw)
  return count <= MAX_STREAM_CHUNKS ? count : undefined
}
