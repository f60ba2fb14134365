import { sharedRedisUrl } from '../support/redis/shared'
import { stampedeSuite } from './stampede-suite'

// One origin call for 200 cold requests on two processes, on the shared Redis (see
// stampede-suite.ts): Express and Koa, then Koa and Fastify. Each pair starts with
// its describe block and is stopped when the block is over.

describe('Express and Koa', () => {
  stampedeSuite(sharedRedisUrl)
})

describe('Koa and Fastify', () => {
  stampedeSuite(sharedRedisUrl, 'stampede-fastify', ['koa', 'fastify'])
})
