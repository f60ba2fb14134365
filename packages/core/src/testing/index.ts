export type { EngineFixture, TierContractOptions, TierFixture } from './tier-contract'
export { engineContract, tierContract } from './tier-contract'
