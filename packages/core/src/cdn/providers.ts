/**
 * What each CDN reads from a response, from its published documentation
 * (docs/cdn.md cites each figure): the header carrying the tags, how they are
 * separated, the limits a response's tags must fit, whether tags differ by
 * case, and the header holding a lifetime meant for the CDN alone.
 *
 * Where a limit is not published, the figure is a conservative one and says
 * so (`published: false`): a tag set within it fits whatever the real one is.
 */
export interface CdnProfile {
  /** The response header the CDN reads its tags from. */
  readonly tagHeader: string
  readonly separator: ' ' | ','
  /** Longest tag, in bytes. */
  readonly tagBytes: number
  /** Most tags on one response (`Infinity`: bounded by `headerBytes` alone). */
  readonly maxTags: number
  /** Longest header value, in bytes (separators included). */
  readonly headerBytes: number
  /** Bytes a tag may not contain (the separator always among them). */
  readonly forbidden: RegExp
  /** `Product` and `product` are the same tag to this CDN. */
  readonly caseInsensitive: boolean
  /**
   * The header for the CDN's own lifetime (RFC 9213 or the CDN's own), or
   * none: the CDN reads `Cache-Control` only (set `s-maxage` there).
   */
  readonly ttlHeader: string | undefined
  /** Whether every limit above is published (false: some are conservative guesses). */
  readonly published: boolean
}

/** Anything outside printable ASCII, and the separators every CDN splits on. */
const NOT_VISIBLE = /[^\x21-\x7e]|,/

export const CDN_PROFILES = {
  fastly: {
    tagHeader: 'Surrogate-Key',
    separator: ' ',
    tagBytes: 1024,
    maxTags: Number.POSITIVE_INFINITY,
    headerBytes: 16_384,
    forbidden: /[^\x21-\x7e]/,
    caseInsensitive: false,
    ttlHeader: 'Surrogate-Control',
    published: true,
  },
  cloudflare: {
    tagHeader: 'Cache-Tag',
    separator: ',',
    // No limit per tag in the header; 1,024 characters in a purge call.
    tagBytes: 1024,
    maxTags: Number.POSITIVE_INFINITY,
    // 16 KB after the field name, whitespace and commas included.
    headerBytes: 16_384,
    forbidden: NOT_VISIBLE,
    caseInsensitive: true,
    // Read before CDN-Cache-Control, and not passed on downstream.
    ttlHeader: 'Cloudflare-CDN-Cache-Control',
    published: true,
  },
  akamai: {
    tagHeader: 'Edge-Cache-Tag',
    separator: ',',
    tagBytes: 128,
    maxTags: 128,
    // Tags past 128 are ignored; the reply headers as a whole are bounded at
    // 8,192 bytes: the tag header gets 6 KiB of them, the rest are the response's.
    headerBytes: 6144,
    // RFC 7230 token characters, `/` being disputed between two of its pages: refused.
    forbidden: /[^\x21-\x7e]|[<>*@\\{}:,"=()?;[\]/]/,
    caseInsensitive: false,
    ttlHeader: 'CDN-Cache-Control',
    published: true,
  },
  cloudfront: {
    // Whatever the distribution's CacheTagConfig.HeaderName says: `tagHeader` is required.
    tagHeader: '',
    separator: ',',
    tagBytes: 256,
    maxTags: 50,
    headerBytes: 50 * 257,
    forbidden: NOT_VISIBLE,
    caseInsensitive: true,
    ttlHeader: undefined,
    published: true,
  },
  bunny: {
    tagHeader: 'CDN-Tag',
    separator: ',',
    tagBytes: 1024,
    maxTags: Number.POSITIVE_INFINITY,
    // "CDN-Tag header values are limited to 1024 bytes."
    headerBytes: 1024,
    forbidden: NOT_VISIBLE,
    caseInsensitive: false,
    ttlHeader: undefined,
    published: false,
  },
  netlify: {
    tagHeader: 'Netlify-Cache-Tag',
    separator: ',',
    tagBytes: 256,
    maxTags: 128,
    headerBytes: 8192,
    forbidden: NOT_VISIBLE,
    caseInsensitive: false,
    ttlHeader: 'Netlify-CDN-Cache-Control',
    published: false,
  },
  vercel: {
    tagHeader: 'Vercel-Cache-Tag',
    separator: ',',
    // A purge call takes tags of at most 256 characters.
    tagBytes: 256,
    maxTags: 128,
    headerBytes: 8192,
    forbidden: NOT_VISIBLE,
    caseInsensitive: false,
    ttlHeader: 'Vercel-CDN-Cache-Control',
    published: false,
  },
  custom: {
    tagHeader: '',
    separator: ',',
    tagBytes: 1024,
    maxTags: Number.POSITIVE_INFINITY,
    headerBytes: 8192,
    forbidden: NOT_VISIBLE,
    caseInsensitive: false,
    ttlHeader: 'CDN-Cache-Control',
    published: false,
  },
} as const satisfies Record<string, CdnProfile>

export type CdnProvider = keyof typeof CDN_PROFILES
