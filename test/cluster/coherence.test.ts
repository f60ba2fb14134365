import { sharedRedisUrl } from '../support/redis/shared'
import { coherenceSuite } from './coherence-suite'

// Read-your-writes across two processes on the shared Redis (see coherence-suite.ts).
coherenceSuite(sharedRedisUrl)
