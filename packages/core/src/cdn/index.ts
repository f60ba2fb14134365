// `@cachet/core/cdn`: the CDN in front (see docs/cdn.md). The purgers for
// `cdn.purger`, the purger interface for one of your own, and `foldTag` for
// computing, outside cachet, the form a tag was sent to the CDN in.
export type { CdnOptions, CdnRuleOptions } from './options'
export { CDN_PROFILES, type CdnProfile, type CdnProvider } from './providers'
export type { PurgeCounts, PurgeReport } from './purge-queue'
export type { PurgeBatch, PurgeResult, Purger } from './purger'
export {
  type AkamaiPurgerOptions,
  akamaiPurger,
  type BunnyPurgerOptions,
  bunnyPurger,
  type CloudflarePurgerOptions,
  type CloudfrontPurgerOptions,
  cloudflarePurger,
  cloudfrontPurger,
  type FastlyPurgerOptions,
  fastlyPurger,
  type NetlifyPurgerOptions,
  netlifyPurger,
  type VercelPurgerOptions,
  vercelPurger,
} from './purgers'
export { foldTag, purgeForms } from './tag-budget'
