import { adminRequest, refuse } from '../admin-client'
import {
  ADMIN_OPTIONS,
  count,
  duration,
  EXIT_OK,
  type Io,
  type OptionSpec,
  parse,
  REDIS_OPTIONS,
  target,
} from '../args'
import { connectRedis } from '../redis-connection'
import { redisStats } from '../redis-stats'
import { resolveShards } from '../shards'
import { formatAdminStats, formatRedisStats } from '../stats-format'

export { entryKeyMatch, type RedisStats } from '../redis-stats'
export { formatAdminStats, formatRedisStats } from '../stats-format'

export const STATS_USAGE = `usage: cachet stats (--redis URL [--namespace NS | --prefix P] [--lease D] [--shards N]
                     | --admin URL (--token T | --token-env VAR)) [--json]

Shows the state of a cache.

  --redis URL        the cluster's shared state in Redis: keyspace epoch, shards, live
                     processes (leases), bus sequence, tag and pattern counters, entry keys
                     of every shard (SCAN), Redis memory (INFO memory). URL: redis://host:port
                     (or rediss://), host:port,host:port (Redis Cluster seeds), or
                     sentinel://host:port[,host:port]/<master name> (Redis Sentinel)
  --namespace NS     the app's namespace option (default cachet): only its keys, processes
                     and bus are counted
  --prefix P         redisTier's prefix option, for an app whose tier sets one (instead of
                     --namespace; giving both, they must agree)
  --lease D          the cluster's lease (default 3s), to tell when a lease was renewed
  --shards N         the shard count to expect (1 to 1024). Default: the count Redis records
                     for the prefix, else 1 on one Redis and 12 on a Cluster; a count that
                     disagrees with Redis's record exits 1
  --scan-limit N     count at most N entry keys (default 100000); SCAN, never KEYS
  --admin URL        one process's admin API (GET /stats): its counters per rule and tier,
                     and its recent invalidations
  --token T | --token-env VAR   the admin API's bearer token
  --json             print JSON instead of text
  --timeout D        give up after D (default 10s)
  -h, --help         this help

Exit: 0 done, 1 failed or unreachable, 2 usage error.
`

const SPEC: OptionSpec = {
  json: { type: 'boolean' },
  'scan-limit': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...REDIS_OPTIONS,
  ...ADMIN_OPTIONS,
}

export async function statsCommand(args: readonly string[], io: Io): Promise<number> {
  const p = parse(args, SPEC)
  if (p.flags.help) {
    io.stdout.write(STATS_USAGE)
    return EXIT_OK
  }
  const where = target(p, io, { redis: true })
  const timeoutMs = duration(p, 'timeout', '10s')
  const scanLimit = count(p, 'scan-limit', 0, 100_000_000) ?? 100_000
  if (where.kind === 'admin') {
    const answer = await adminRequest(where.url, where.token, 'GET', '/stats', timeoutMs)
    if (answer.status !== 200) refuse(answer, `${where.url}/stats`)
    io.stdout.write(
      p.flags.json ? `${JSON.stringify(answer.body, null, 2)}\n` : formatAdminStats(answer.body),
    )
    return EXIT_OK
  }
  const client = await connectRedis(where.url)
  try {
    const shards = await resolveShards(client, where.prefix, where.shards)
    const stats = await redisStats(client, where.url, where.prefix, where.lease, shards, scanLimit)
    io.stdout.write(p.flags.json ? `${JSON.stringify(stats, null, 2)}\n` : formatRedisStats(stats))
    return EXIT_OK
  } finally {
    client.disconnect()
  }
}
