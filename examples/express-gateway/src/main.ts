import { runShop } from '@cachet/shop-common'
import { createGateway } from './app'

// `ORIGIN_URL=http://127.0.0.1:8080 node examples/express-gateway/dist/main.js`:
// listens on HOST:PORT (127.0.0.1:3000) like the shops, with their REDIS_URL
// and CACHE_L1_MAX_BYTES.
if (require.main === module) {
  const originUrl = process.env.ORIGIN_URL
  if (originUrl === undefined || originUrl === '') {
    console.error(
      'ORIGIN_URL is required: the upstream every request is forwarded to, e.g. http://127.0.0.1:8080',
    )
    process.exit(1)
  }
  runShop((config) => createGateway({ ...config, originUrl }))
}
