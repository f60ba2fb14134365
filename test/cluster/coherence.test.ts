import { sharedRedisUrl } from '../support/redis/shared'
import { coherenceSuite } from './coherence-suite'

// Read-your-writes across two processes on the shared Redis (see coherence-suite.ts):
// Express writes and Koa reads, then Fastify writes and Express reads. Each pair
// starts with its describe block and is stopped by its last test.

describe('Express and Koa', () => {
  coherenceSuite(sharedRedisUrl)
})

describe('Fastify and Express', () => {
  coherenceSuite(sharedRedisUrl, 'coherence-fastify', ['fastify', 'express'])
})
