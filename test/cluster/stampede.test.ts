import { sharedRedisUrl } from '../support/redis/shared'
import { stampedeSuite } from './stampede-suite'

// One origin call for 200 cold requests on two processes, on the shared Redis (see stampede-suite.ts).
stampedeSuite(sharedRedisUrl)
