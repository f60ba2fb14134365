export type { KeyvStore, KeyvTierOptions } from './keyv-tier'
export { KeyvTier, keyvTier } from './keyv-tier'
