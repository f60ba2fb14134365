export { decodeEnvelope, ENVELOPE_MAGIC, encodeEnvelope } from '../tiers/envelope'
export type { RedisTierOptions } from './redis-tier'
export { RedisTier, redisTier } from './redis-tier'
