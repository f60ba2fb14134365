import { runShop } from '@cachet/shop-common'
import { createShop } from './app'

// `npm run start:fastify`: listens on HOST:PORT. Only as the entry point, so that
// importing the app (as the tests do) never opens a port.
if (require.main === module) runShop(createShop)
