import http, { type IncomingHttpHeaders } from 'node:http'

/** A response as it came over the wire: nothing decoded, nothing parsed. */
export interface RawReply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface RawRequestOptions {
  method?: string
  /** Exactly these request headers (Node adds Host and Connection). */
  headers?: Record<string, string>
  body?: string
  /** The largest response header block read; Node's default is 16 KiB. */
  maxHeaderSize?: number
}

/**
 * One request through `node:http` with no agent tricks and no decoding, for
 * the tests that need the exact bytes and headers (a Content-Encoding, a
 * header block past 16 KiB) that supertest would transform.
 */
export function rawRequest(
  base: string,
  path: string,
  options: RawRequestOptions = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, base),
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        maxHeaderSize: options.maxHeaderSize,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}
