import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readConfig, type ShopConfig, type ShopEnv } from './config'
import type { Shop } from './shop'

// The process side of both apps' `main.ts`: read the environment, listen, print
// the one line that start-up scripts wait for, and shut down cleanly on SIGTERM.

type Servable = Pick<Shop<unknown>, 'handler' | 'close' | 'cache'>

// How long open requests (a long `/stream/:chunks`, say) may run after SIGTERM
// before their connections are cut; well under the usual 10 s kill timeout.
const SHUTDOWN_GRACE_MS = 5000

// Starts the shop that `create` builds from the environment. A bad environment
// or a port that cannot be bound ends the process with status 1.
export function runShop(
  create: (config: ShopConfig) => Servable,
  env: ShopEnv = process.env,
): void {
  let config: ShopConfig
  let shop: Servable
  try {
    config = readConfig(env)
    // A bad option (a CACHE_ADMIN_TOKEN too short, say) is one line, not a stack.
    shop = create(config)
  } catch (err) {
    console.error((err as Error).message)
    process.exit(1)
  }
  // Listen once the cache has joined its Redis bus, so that "listening" means
  // this process takes part in the cluster's invalidations.
  void shop.cache.ready.then(() => serveShop(shop, config))
}

export function serveShop(shop: Servable, config: Pick<ShopConfig, 'host' | 'port'>): Server {
  const server = createServer(shop.handler)
  server.on('error', (err) => {
    console.error(`cannot listen on ${config.host}:${config.port}: ${err.message}`)
    void shop.close().finally(() => process.exit(1))
  })
  server.listen(config.port, config.host, () => {
    // The bound port, which differs from the configured one for PORT=0.
    const { port } = server.address() as AddressInfo
    console.log(`listening on http://${urlHost(config.host)}:${port}`)
  })
  // `once`: a second Ctrl-C falls back to Node's default and ends the process
  // at once, the escape hatch if a graceful shutdown hangs.
  const stop = () => void shutdown(server, shop)
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  return server
}

async function shutdown(server: Server, shop: Servable): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS)
  force.unref()
  await closed
  clearTimeout(force)
  try {
    await shop.close()
  } catch (err) {
    console.error(`error while closing the cache: ${(err as Error).message}`)
    process.exit(1)
  }
  process.exit(0)
}

// An IPv6 literal needs brackets in a URL.
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}
