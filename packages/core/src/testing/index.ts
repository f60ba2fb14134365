export type { EngineFixture } from './engine-contract'
export { engineContract } from './engine-contract'
export type { TierContractOptions, TierFixture } from './tier-contract'
export { tierContract } from './tier-contract'
