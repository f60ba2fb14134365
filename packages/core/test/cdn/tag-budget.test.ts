import { CDN_PROFILES, type CdnProvider } from '../../src/cdn/providers'
import { cdnTag, FOLDED_LENGTH, foldTag, purgeForms, tagHeader } from '../../src/cdn/tag-budget'

// Each CDN's published limits (providers.ts), as tables: what fits as it is,
// what is folded, what cannot fit at all; and that a purge names every form
// a tag may have been sent in.

const profile = (provider: CdnProvider, tagHeaderName = 'x-tags') => ({
  ...CDN_PROFILES[provider],
  tagHeader: CDN_PROFILES[provider].tagHeader || tagHeaderName,
})

test('a fold is stable, short, and made of bytes every CDN allows', () => {
  const f = foldTag('product:42')
  expect(f).toBe(foldTag('product:42'))
  expect(f).not.toBe(foldTag('product:43'))
  expect(f).toMatch(/^cachet-[0-9a-f]{24}$/)
  expect(f.length).toBe(FOLDED_LENGTH)
  for (const p of Object.keys(CDN_PROFILES) as CdnProvider[]) expect(cdnTag(f, profile(p))).toBe(f)
})

describe.each([
  // provider, a tag that fits as it is, tags that must be folded
  ['fastly', 'product:42', ['a b', 'x'.repeat(1025), 'é']],
  ['cloudflare', 'product:42', ['a,b', 'a b', 'x'.repeat(1025)]],
  ['akamai', 'product-42', ['product:42', 'a/b', 'x'.repeat(129), 'a b', 'a"b']],
  ['cloudfront', 'product:42', ['a,b', 'x'.repeat(257), 'a b']],
  ['bunny', 'product:42', ['a,b', 'x'.repeat(1025)]],
  ['netlify', 'product:42', ['a,b', 'x'.repeat(257)]],
  ['vercel', 'product:42', ['a,b', 'x'.repeat(257)]],
] as Array<[CdnProvider, string, string[]]>)('%s', (provider, plain, folded) => {
  const p = profile(provider)

  test('a tag within the limits goes as it is; one outside them is folded', () => {
    expect(cdnTag(plain, p)).toBe(plain)
    for (const t of folded) expect(cdnTag(t, p)).toBe(foldTag(t))
  })

  test('a purge names the form sent: the tag, its fold, or both for a long one', () => {
    expect(purgeForms(plain, p)).toEqual([plain])
    for (const t of folded) expect(purgeForms(t, p)).toEqual([foldTag(t)])
    const long = `l${'x'.repeat(FOLDED_LENGTH)}`
    expect(purgeForms(long, p)).toEqual([long, foldTag(long)])
  })

  test('the header joins the tags with the provider’s separator, duplicates once', () => {
    const h = tagHeader([plain, 'other', plain], p)
    expect(h).toEqual({ fits: true, value: `${plain}${p.separator}other`, folded: 0 })
  })

  test('over the count or the bytes: never truncated, reported as not fitting', () => {
    const many = Array.from(
      { length: Number.isFinite(p.maxTags) ? p.maxTags + 1 : 5000 },
      (_, i) => `t${i}`,
    )
    const h = tagHeader(many, p)
    expect(h.fits).toBe(false)
  })
})

test('case: a case-insensitive CDN gets one of two tags that differ only by case', () => {
  expect(tagHeader(['Product', 'product'], profile('cloudflare'))).toMatchObject({
    value: 'Product',
  })
  expect(tagHeader(['Product', 'product'], profile('akamai'))).toMatchObject({
    value: 'Product,product',
  })
})

test('a header too long as it is fits once every long tag is folded', () => {
  const p = profile('bunny') // 1,024 bytes in all
  const long = Array.from({ length: 10 }, (_, i) => `${i}${'x'.repeat(200)}`)
  const h = tagHeader(long, p)
  expect(h).toEqual({ fits: true, value: long.map(foldTag).join(','), folded: 10 })
  // And a purge of any of them names the fold too.
  expect(purgeForms(long[0] as string, p)).toContain(foldTag(long[0] as string))
})

test('Akamai: 128 tags fit, 129 do not', () => {
  const p = profile('akamai')
  expect(
    tagHeader(
      Array.from({ length: 128 }, (_, i) => `t${i}`),
      p,
    ).fits,
  ).toBe(true)
  expect(
    tagHeader(
      Array.from({ length: 129 }, (_, i) => `t${i}`),
      p,
    ),
  ).toEqual({
    fits: false,
    reason: 'count',
  })
})

test('Fastly: 16 KB of keys fit, one byte more does not', () => {
  const p = profile('fastly')
  // 16 tags of 1,023 bytes and 15 spaces: 16,383 bytes.
  const tags = Array.from({ length: 16 }, (_, i) => `${i.toString(16)}${'x'.repeat(1022)}`)
  expect(Buffer.byteLength(tags.join(' '))).toBe(16_383)
  expect(tagHeader(tags, p)).toMatchObject({ fits: true, folded: 0 })
  // Past the limit, every tag longer than a fold is folded instead.
  const more = [...tags, 'yy']
  expect(tagHeader(more, p)).toMatchObject({ fits: true, folded: 16 })
})
