import { Cluster, Redis } from 'ioredis'
import { Failure } from './args'

/** How long connecting may take before the command gives up. */
export const CONNECT_TIMEOUT_MS = 2000
/** Longest a single command may take (the tier has its own, shorter deadlines). */
const COMMAND_TIMEOUT_MS = 5000

const CLUSTER_SEEDS = /^[^\s,:/]+:\d+(,[^\s,:/]+:\d+)*$/

/**
 * A connection that fails fast and never hangs: no offline queue, no retries
 * per request, no reconnection, `connectTimeout` 2 s. `lazyConnect`, so that
 * the duplicate the Redis tier makes for its subscription (which a CLI never
 * uses: it does not join the bus) is never opened either.
 */
export async function connectRedis(url: string): Promise<Redis | Cluster> {
  const client = CLUSTER_SEEDS.test(url)
    ? new Cluster(
        url.split(',').map((seed) => {
          const i = seed.lastIndexOf(':')
          return { host: seed.slice(0, i), port: Number(seed.slice(i + 1)) }
        }),
        {
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: () => null,
          redisOptions: {
            connectTimeout: CONNECT_TIMEOUT_MS,
            commandTimeout: COMMAND_TIMEOUT_MS,
            maxRetriesPerRequest: 0,
          },
        },
      )
    : new Redis(url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: CONNECT_TIMEOUT_MS,
        commandTimeout: COMMAND_TIMEOUT_MS,
        retryStrategy: () => null,
      })
  let lastError: Error | undefined
  client.on('error', (err: Error) => {
    lastError = err
  })
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)),
          CONNECT_TIMEOUT_MS + 500,
        )
      }),
    ])
  } catch (err) {
    client.disconnect()
    const why = lastError?.message ?? (err as Error).message
    throw new Failure(`cannot connect to Redis at ${redact(url)}: ${why}`)
  } finally {
    clearTimeout(timer)
  }
  return client
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_, scheme: string, auth: string) =>
    auth.includes(':') ? `${scheme}${auth.split(':')[0]}:***@` : `${scheme}***@`,
  )
}
