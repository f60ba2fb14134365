import fc from 'fast-check'
import { parseCacheControl, unqualifiedNoCache } from '../../src/http/cache-control'

type Header = string | readonly string[] | number | undefined

const cases: [string, Header, Record<string, string | true>][] = [
  ['undefined', undefined, {}],
  ['empty', '', {}],
  ['one directive', 'no-store', { 'no-store': true }],
  ['case-insensitive names', 'No-Store, MAX-AGE=60', { 'no-store': true, 'max-age': '60' }],
  ['values keep their case', 'x-ext=AbC', { 'x-ext': 'AbC' }],
  ['whitespace around items', '  public ,\tmax-age=5  ', { public: true, 'max-age': '5' }],
  [
    'several header lines are one list',
    ['max-age=60', 'no-cache'],
    { 'max-age': '60', 'no-cache': true },
  ],
  [
    'a list in one of several lines',
    ['public', 's-maxage=1, private'],
    { public: true, 's-maxage': '1', private: true },
  ],
  ['quoted value', 'max-age="60"', { 'max-age': '60' }],
  [
    'a comma inside a quoted value',
    'no-cache="set-cookie, x-foo", max-age=1',
    { 'no-cache': 'set-cookie, x-foo', 'max-age': '1' },
  ],
  [
    'an escaped quote inside a quoted value',
    'private="a\\"b", no-store',
    { private: 'a"b', 'no-store': true },
  ],
  // RFC 9110 §5.6.4: `\\` is an escaped backslash; the quote after it closes the string.
  [
    'an escaped backslash before the closing quote',
    'no-cache="a\\\\", no-store',
    { 'no-cache': 'a\\', 'no-store': true },
  ],
  ['first occurrence wins', 'max-age=1, max-age=2', { 'max-age': '1' }],
  ['first occurrence wins across case', 'Max-Age=1, max-age=2', { 'max-age': '1' }],
  ['first occurrence wins across lines', ['max-age=1', 'max-age=2'], { 'max-age': '1' }],
  ['empty items are skipped', ',,no-store,,', { 'no-store': true }],
  ['a value without a name is skipped', '=5, public', { public: true }],
  ['an empty value is kept', 'max-age=', { 'max-age': '' }],
  ['a malformed value is kept as given', 'max-age=abc', { 'max-age': 'abc' }],
]

describe('parseCacheControl', () => {
  test.each(cases)('%s', (_, header, expected) => {
    expect(Object.fromEntries(parseCacheControl(header))).toEqual(expected)
  })

  const garbage = fc.string({
    unit: fc.oneof(
      fc.constantFrom('"', '\\', ',', '=', ' ', '\t', 'a', 'A', '-', 'no-store', 'max-age'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
    maxLength: 40,
  })

  test('never throws, whatever the input; names are lower-case and non-empty', () => {
    fc.assert(
      fc.property(fc.oneof(garbage, fc.array(garbage, { maxLength: 4 })), (header) => {
        const cc = parseCacheControl(header)
        for (const name of cc.keys()) {
          expect(name).not.toBe('')
          expect(name).toBe(name.toLowerCase())
        }
      }),
      { numRuns: 2000 },
    )
  })

  test('a quoted value of any content round-trips and does not hide the next directive', () => {
    const quote = (v: string) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`
    const value = fc.string({ unit: fc.constantFrom('a', ',', '"', '\\', ' ', '='), maxLength: 8 })
    fc.assert(
      fc.property(value, (v) => {
        const cc = parseCacheControl(`no-cache=${quote(v)}, no-store`)
        expect(cc.get('no-cache')).toBe(v)
        expect(cc.get('no-store')).toBe(true)
      }),
    )
  })
})

describe('unqualifiedNoCache (RFC 9111 §5.2.2.4)', () => {
  test.each([
    ['no-cache', true],
    ['max-age=60, NO-CACHE', true],
    ['no-cache=""', true],
    ['no-cache=","', true],
    ['no-cache="Set-Cookie"', false],
    ['no-cache="a, b"', false],
    ['max-age=60', false],
  ])('%s: %s', (header, expected) => {
    expect(unqualifiedNoCache(parseCacheControl(header))).toBe(expected)
  })
})
