import { describeValue } from '../../src/errors'
import { parseDuration, parseSize } from '../../src/options/units'

/** A number is the parsed value; a RegExp matches the error message. */
type Expected = number | RegExp

const durations: [unknown, Expected][] = [
  [60, 60_000],
  [1.5, 1500],
  [0, 0],
  [0.0004, 0],
  ['60', 60_000],
  ['60s', 60_000],
  ['1.5s', 1500],
  [' 2 s ', 2000],
  ['500ms', 500],
  ['5m', 300_000],
  ['1h', 3_600_000],
  ['1d', 86_400_000],
  ['0s', 0],
  [-1, /expected a duration of 0 seconds or more, got -1$/],
  [Number.NaN, /of 0 seconds or more, got NaN$/],
  [Number.POSITIVE_INFINITY, /of 0 seconds or more, got Infinity$/],
  [
    'abc',
    /expected seconds \(a number\) or a duration string like '60s', '5m', '500ms', got "abc"$/,
  ],
  ['', /got ""$/],
  ['-1s', /got "-1s"$/],
  ['1e3', /got "1e3"$/],
  ['5 minutes', /got "5 minutes"$/],
  ['1S', /got "1S"$/],
  [null, /got null$/],
  [undefined, /got undefined$/],
  [{}, /got an? Object$/],
  [[60], /got an array of 1$/],
]

const sizes: [unknown, Expected][] = [
  [0, 0],
  [1024, 1024],
  ['100', 100],
  ['100b', 100],
  ['1kb', 1000],
  ['1KiB', 1024],
  ['1MiB', 1_048_576],
  ['1mb', 1_000_000],
  ['2GiB', 2 * 1024 ** 3],
  ['1gb', 1e9],
  ['1.5kb', 1500],
  [' 512 kb ', 512_000],
  ['0.5b', 0],
  [1.5, /expected a whole number of bytes \(0 or more\), got 1.5$/],
  [-1, /expected a whole number of bytes \(0 or more\), got -1$/],
  [Number.MAX_SAFE_INTEGER + 1, /whole number of bytes/],
  ['abc', /expected bytes \(a number\) or a size string like '1MiB', '512kb', got "abc"$/],
  ['1TB', /got "1TB"$/],
  ['-1kb', /got "-1kb"$/],
  ['', /got ""$/],
  [true, /got true$/],
]

function check(actual: number | string, expected: Expected): void {
  if (typeof expected === 'number') expect(actual).toBe(expected)
  else expect(actual).toMatch(expected)
}

describe('parseDuration', () => {
  test.each(durations)('%p', (input, expected) => check(parseDuration(input), expected))
})

describe('parseSize', () => {
  test.each(sizes)('%p', (input, expected) => check(parseSize(input), expected))
})

describe('describeValue', () => {
  test.each<[unknown, string]>([
    ['abc', '"abc"'],
    [-1, '-1'],
    [false, 'false'],
    [10n, '10'],
    [null, 'null'],
    [undefined, 'undefined'],
    [[1, 2], 'an array of 2'],
    [new Map(), 'a Map'],
    [() => 1, 'a function'],
  ])('%p', (value, expected) => expect(describeValue(value)).toBe(expected))
})
