import { connect } from 'node:net'
import { sentinelOptions } from '@cachet/core/redis'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { Failure } from './args'

/** How long connecting may take before the command gives up. */
export const CONNECT_TIMEOUT_MS = 2000
/** Longest a single command may take (the tier has its own, shorter deadlines). */
const COMMAND_TIMEOUT_MS = 5000

const CLUSTER_SEEDS = /^[^\s,:/]+:\d+(,[^\s,:/]+:\d+)*$/

/** Settings of a single connection (a redis:// URL, or the master a sentinel names). */
const SINGLE: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: CONNECT_TIMEOUT_MS,
  commandTimeout: COMMAND_TIMEOUT_MS,
  retryStrategy: () => null,
}

/**
 * A connection that fails fast and never hangs: no offline queue, no retries
 * per request, no reconnection, `connectTimeout` 2 s. `lazyConnect`, so that
 * the duplicate the Redis tier makes for its subscription (which a CLI never
 * uses: it does not join the bus) is never opened either. A `sentinel://` URL
 * asks its sentinels (each once, no retry) for the master, then connects to it
 * as to a redis:// URL; a short-lived command does not follow failovers
 * (`failoverDetector` off, no reconnection on READONLY): it fails, exit 1.
 */
export async function connectRedis(url: string): Promise<Redis | Cluster> {
  const sentinel = url.startsWith('sentinel://') ? sentinelOptions(url) : undefined
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
    : sentinel !== undefined
      ? new Redis({
          ...sentinel,
          ...SINGLE,
          failoverDetector: false,
          reconnectOnError: null,
          sentinelRetryStrategy: () => null,
          sentinelCommandTimeout: CONNECT_TIMEOUT_MS,
        })
      : new Redis(url, { ...SINGLE })
  // The last problem seen: the connection's own error, or what a sentinel
  // answered (refused, no master of that name), which ioredis's final error
  // ("All sentinels are unreachable") does not repeat.
  let problem: string | undefined
  client.on('error', (err: Error) => {
    if (!(sentinel !== undefined && err.message.startsWith('All sentinels are unreachable')))
      problem = err.message
  })
  client.on('sentinelError', (err: Error) => {
    problem = describeSentinelError(err.message, sentinel?.name ?? '')
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
    const why = await whyClosed(problem ?? (err as Error).message)
    throw new Failure(`cannot connect to Redis at ${redact(url)}: ${why}`)
  } finally {
    clearTimeout(timer)
  }
  return client
}

/** ioredis's `sentinelError`, in the CLI's words. */
function describeSentinelError(message: string, name: string): string {
  const noMaster =
    /^connected to sentinel (\S+) successfully, but got an invalid reply: null$/.exec(message) ??
    /^failed to connect to sentinel (\S+) because ERR No such master/.exec(message)
  if (noMaster !== null) return `sentinel ${noMaster[1]} knows no master named "${name}"`
  return message.replace(/^failed to connect to sentinel (\S+) because /, 'sentinel $1: ')
}

/**
 * ioredis reports a sentinel it could not reach as "Connection is closed.",
 * the reason lost: one TCP connection attempt (at most 1 s) finds it again
 * (`connect ECONNREFUSED …`, `connect ETIMEDOUT …`).
 */
async function whyClosed(problem: string): Promise<string> {
  const m = /^sentinel (\S+): Connection is closed\.$/.exec(problem)
  if (m === null) return problem
  const address = m[1] as string
  const i = address.lastIndexOf(':')
  const reason = await new Promise<string | undefined>((resolve) => {
    const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) })
    const done = (why: string | undefined) => {
      socket.destroy()
      resolve(why)
    }
    socket.setTimeout(1000, () => done(`no answer within 1000 ms`))
    socket.once('error', (err) => done(err.message))
    socket.once('connect', () => done(undefined))
  })
  return reason === undefined ? problem : `sentinel ${address}: ${reason}`
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/^(rediss?:\/\/|sentinel:\/\/)([^@/]*)@/, (_, scheme: string, auth: string) =>
    auth.includes(':') ? `${scheme}${auth.split(':')[0]}:***@` : `${scheme}***@`,
  )
}
