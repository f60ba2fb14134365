export { decodeEnvelope, ENVELOPE_MAGIC, encodeEnvelope } from './envelope'
export type { RedisTierOptions } from './redis-tier'
export { RedisTier, redisTier } from './redis-tier'
