export { KeyvTier, keyvTier } from './keyv-tier'
export type { KeyvStore, KeyvTierOptions } from './options'
