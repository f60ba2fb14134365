export { decodeEnvelope, ENVELOPE_MAGIC, encodeEnvelope } from '../tiers/envelope'
export { Keyspace as RedisKeyspace } from './keyspace'
export type { RedisTierOptions } from './redis-tier'
export { RedisTier, redisTier } from './redis-tier'
