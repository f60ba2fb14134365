import type { OutgoingHttpHeaders } from 'node:http'
import { ownHeaders } from '../../src/engine/fill'
import { ifNoneMatchMatches, sameEntityTag, strongEtag } from '../../src/http/conditional'
import { headerString, mergeNotModified, storableHeaders, varyWith } from '../../src/http/headers'

const inm: [string, string | undefined, string | undefined, boolean][] = [
  // name, If-None-Match, stored ETag, matches
  ['no header', undefined, '"a"', false],
  ['no etag', '"a"', undefined, false],
  ['same strong tag', '"a"', '"a"', true],
  ['different tag', '"b"', '"a"', false],
  ['weak header, strong etag (weak comparison)', 'W/"a"', '"a"', true],
  ['strong header, weak etag', '"a"', 'W/"a"', true],
  ['both weak', 'W/"a"', 'W/"a"', true],
  ['a list with the tag', '"x", "a"', '"a"', true],
  ['a list with odd spacing', '"x" ,W/"a" ', '"a"', true],
  ['a list without the tag', '"x", "y"', '"a"', false],
  ['star', '*', '"a"', true],
  ['star with spaces', ' * ', '"a"', true],
  ['star without a representation', '*', undefined, false],
  ['unquoted garbage', 'a', '"a"', false],
  ['a prefix is not a match', '"ab"', '"a"', false],
  // etagc allows "," (RFC 9110 §8.8.3): a comma inside a quoted tag does not split the list.
  ['a tag containing a comma', '"a,b"', '"a,b"', true],
]

describe('ifNoneMatchMatches', () => {
  test.each(inm)('%s', (_, header, etag, expected) => {
    expect(ifNoneMatchMatches(header, etag)).toBe(expected)
  })
})

describe('strongEtag', () => {
  test('a quoted strong tag of the length and a hash, stable for the same bytes', () => {
    const tag = strongEtag(Buffer.from('hello'))
    expect(tag).toMatch(/^"5-[A-Za-z0-9+/]{27}"$/)
    expect(strongEtag(Buffer.from('hello'))).toBe(tag)
    expect(strongEtag(Buffer.from('hellp'))).not.toBe(tag)
    expect(strongEtag(Buffer.alloc(0))).toMatch(/^"0-/)
  })
})

const storable: [string, OutgoingHttpHeaders, string[]][] = [
  [
    'end-to-end headers are kept',
    { 'content-type': 'text/plain', 'cache-control': 'max-age=60' },
    ['content-type', 'text/plain', 'cache-control', 'max-age=60'],
  ],
  [
    'hop-by-hop headers are dropped',
    {
      connection: 'close',
      'keep-alive': 'timeout=5',
      'proxy-authenticate': 'Basic',
      'proxy-authorization': 'x',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      vary: 'accept',
    },
    ['vary', 'accept'],
  ],
  [
    'headers named in Connection are dropped',
    { connection: 'X-Debug, close', 'x-debug': '1', 'x-kept': '2' },
    ['x-kept', '2'],
  ],
  [
    'Connection as an array',
    { connection: ['x-a', 'X-B'], 'x-a': '1', 'x-b': '2', 'x-c': '3' },
    ['x-c', '3'],
  ],
  [
    'recomputed headers and the validator are dropped; the origin’s Date is kept',
    {
      date: 'x',
      age: '5',
      'content-length': '10',
      etag: '"a"',
      'x-cache': 'MISS',
      'cache-status': 'c',
      'last-modified': 'y',
    },
    ['date', 'x', 'last-modified', 'y'],
  ],
  [
    'names are lower-cased',
    { 'Content-Type': 'text/html', ETag: '"a"' },
    ['content-type', 'text/html'],
  ],
  [
    'arrays are flattened, one pair per value',
    { link: ['<a>; rel=preload', '<b>; rel=preload'] },
    ['link', '<a>; rel=preload', 'link', '<b>; rel=preload'],
  ],
  ['numbers become strings', { 'x-count': 5 }, ['x-count', '5']],
  ['undefined values are skipped', { 'x-none': undefined, 'x-some': 'a' }, ['x-some', 'a']],
]

describe('storableHeaders', () => {
  test.each(storable)('%s', (_, headers, expected) => {
    expect(storableHeaders(headers)).toEqual(expected)
  })

  test.each<[Parameters<typeof headerString>[0], string | undefined]>([
    [undefined, undefined],
    ['a', 'a'],
    [5, '5'],
    [['a', 'b'], 'a, b'],
  ])('headerString(%p) → %p', (value, expected) => expect(headerString(value)).toBe(expected))
})

describe('varyWith: Vary for a rule that keys request headers (RFC 9110 §12.5.5)', () => {
  const cases: Array<[string, string | string[] | undefined, string[], string | undefined]> = [
    ['nothing keyed: unchanged', 'Origin', [], undefined],
    ['no Vary yet', undefined, ['accept-language'], 'accept-language'],
    ['appended to the origin list', 'Origin', ['accept-language'], 'Origin, accept-language'],
    ['already named, any case', 'Accept-Language', ['accept-language'], undefined],
    ['several lines', ['Origin', 'Accept'], ['accept', 'x-tenant'], 'Origin, Accept, x-tenant'],
    ['* stays *', '*', ['accept-language'], undefined],
    ['empty value', '', ['accept-language'], 'accept-language'],
  ]
  it.each(cases)('%s', (_name, current, keyed, expected) => {
    expect(varyWith(current, keyed)).toBe(expected)
  })
})

describe('ownHeaders: what the route and the layers after the cache set', () => {
  const cases: Array<[string, OutgoingHttpHeaders, OutgoingHttpHeaders, OutgoingHttpHeaders]> = [
    ['nothing outer', { a: '1' }, {}, { a: '1' }],
    ['an outer header unchanged is left out', { a: '1', b: '2' }, { b: '2' }, { a: '1' }],
    ['an outer header changed is the route’s', { b: '3' }, { b: '2' }, { b: '3' }],
    [
      'Vary: only the names added after',
      { vary: 'Origin, Accept' },
      { vary: 'origin' },
      { vary: 'Accept' },
    ],
    ['Vary unchanged is left out', { vary: 'Origin' }, { vary: 'Origin' }, {}],
    ['several lines compare as one list', { c: ['x', 'y'] }, { c: 'x, y' }, {}],
  ]
  it.each(cases)('%s', (_name, final, outer, expected) => {
    expect(ownHeaders(final, outer)).toEqual(expected)
  })
})

describe('mergeNotModified: a stored copy updated from a 304 (RFC 9111 §3.2, §4.3.4)', () => {
  const stored = [
    'content-type',
    'text/plain',
    'cache-control',
    'max-age=0',
    'link',
    '</a>',
    'link',
    '</b>',
    'x-kept',
    'k',
  ]
  const cases: Array<[string, OutgoingHttpHeaders, string[]]> = [
    ['an empty 304 changes nothing', {}, stored],
    [
      'a field of the 304 replaces every stored value of that name',
      { link: '</c>', 'cache-control': 'max-age=60' },
      ['content-type', 'text/plain', 'x-kept', 'k', 'link', '</c>', 'cache-control', 'max-age=60'],
    ],
    ['a new field is added', { 'x-new': ['1', '2'] }, [...stored, 'x-new', '1', 'x-new', '2']],
    [
      'Content-Length, Content-Encoding, Content-MD5 and Content-Range describe the stored bytes: kept',
      {
        'content-length': '0',
        'content-encoding': 'br',
        'content-md5': 'x',
        'content-range': 'bytes 0-1/2',
      },
      stored,
    ],
    [
      'Content-Type is updated (RFC 9111 §3.2)',
      { 'content-type': 'text/plain; charset=utf-8' },
      [
        'cache-control',
        'max-age=0',
        'link',
        '</a>',
        'link',
        '</b>',
        'x-kept',
        'k',
        'content-type',
        'text/plain; charset=utf-8',
      ],
    ],
    [
      'fields never stored (Age, ETag, hop-by-hop) are not added; Date is',
      { date: 'x', age: '5', etag: '"a"', connection: 'close', 'x-cache': 'MISS' },
      [...stored, 'date', 'x'],
    ],
  ]
  test.each(cases)('%s', (_, update, expected) => {
    expect(mergeNotModified(stored, update)).toEqual(expected)
  })
})

describe('sameEntityTag: which stored copy a 304 names (RFC 9111 §4.3.4)', () => {
  test.each([
    ['"a"', '"a"', true],
    ['W/"a"', '"a"', true],
    [' "a" ', 'W/"a"', true],
    ['"b"', '"a"', false],
    ['"a"', undefined, false],
  ] as const)('%s vs %s: %s', (tag, stored, expected) => {
    expect(sameEntityTag(tag, stored)).toBe(expected)
  })
})
