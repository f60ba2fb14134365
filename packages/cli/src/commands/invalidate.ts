import { performance } from 'node:perf_hooks'
import { CachetInvalidationError } from '@cachet/core'
import { type NormalizedTarget, normalizeTarget, tenantTag, userTag } from '@cachet/core/adapter'
import { RedisTier } from '@cachet/core/redis'
import { adminRequest, refuse } from '../admin-client'
import {
  ADMIN_OPTIONS,
  duration,
  EXIT_OK,
  Failure,
  type Io,
  type OptionSpec,
  one,
  parse,
  REDIS_OPTIONS,
  target,
  UsageError,
} from '../args'
import { formatMs, list } from '../format'
import { connectRedis } from '../redis-connection'
import { resolveShards, type Shards } from '../shards'

export const INVALIDATE_USAGE = `usage: cachet invalidate (--tag T ... | --pattern P | --user U | --tenant T) [--expire]
                         (--redis URL [--namespace NS | --prefix P] [--lease D] [--shards N]
                          | --admin URL (--token T | --token-env VAR))

Invalidates cached responses in every process of the cluster, and exits 0 once
the invalidation is durable and acknowledged by every live process (or exits 1).

What (at least one; they combine):
  --tag T          a tag (repeat for several): --tag product:1 --tag products
  --pattern P      a path pattern, as in the rules: /products/:id, /products/*
  --user U         every per-user entry of user U
  --tenant T       every entry of tenant T (rules with a tenant)
  --expire         mark them stale instead of removing them (mode 'expire'): still served
                   inside their rules' stale windows while they are refreshed. Not with
                   --pattern (a pattern is always deleted)

Where (one):
  --redis URL      Redis directly: redis://host:port (or rediss://), host:port,host:port
                   (seeds of a Redis Cluster), or sentinel://host:port[,host:port]/<master
                   name> (Redis Sentinel); works without HTTP access to any process
  --namespace NS   the app's namespace option (default cachet): its keys, tags and bus
  --prefix P       redisTier's prefix option, for an app whose tier sets one (instead of
                   --namespace; giving both, they must agree)
  --lease D        the cluster's lease (redisTier's lease option; default 3s): must match
  --shards N       redisTier's shards option (1 to 1024). Default: the count Redis records
                   for the prefix (what the running processes use), else 1 on one Redis
                   and 12 on a Cluster; a count that disagrees with Redis's record exits 1.
                   On a prefix no process has used yet, the invalidation records the count:
                   give the processes' own if they set the shards option
  --admin URL      an admin API, e.g. http://127.0.0.1:3000/admin/cache
  --token T        its bearer token (visible in the process list: prefer --token-env)
  --token-env VAR  the name of an environment variable holding the token

  --timeout D      give up after D (default 30s)
  -h, --help       this help

Through Redis, the invalidation is recorded in every shard of the prefix, and a
pattern goes to the pattern log that every process checks (the CLI has no rules, so
a rule's own pattern is not turned into a cheaper tag bump).

Exit: 0 done, 1 failed or unreachable, 2 usage error.
`

const SPEC: OptionSpec = {
  tag: { type: 'string' },
  pattern: { type: 'string' },
  user: { type: 'string' },
  tenant: { type: 'string' },
  expire: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...REDIS_OPTIONS,
  ...ADMIN_OPTIONS,
}

/** `invalidate(): "pattern": expected …` → `--pattern: expected …`. */
function usageFrom(err: CachetInvalidationError): UsageError {
  const m = /^invalidate\(\): "([^"]+)": (.*)$/s.exec(err.message)
  if (m === null) return new UsageError(err.message)
  const [, field, problem] = m as unknown as [string, string, string]
  const flag =
    field === 'tags'
      ? '--tag'
      : field === 'target'
        ? 'target'
        : field === 'mode'
          ? '--expire'
          : `--${field}`
  return new UsageError(`${flag}: ${problem}`)
}

function describe(t: NormalizedTarget): string {
  const parts: string[] = []
  if (t.tags.length > 0) parts.push(`${t.tags.length === 1 ? 'tag' : 'tags'} ${t.tags.join(', ')}`)
  if (t.patterns.length > 0) parts.push(`pattern ${t.patterns.join(', ')}`)
  if (t.users.length > 0) parts.push(`user ${t.users.join(', ')}`)
  if (t.tenants.length > 0) parts.push(`tenant ${t.tenants.join(', ')}`)
  return `${t.expire === true ? 'expired' : 'invalidated'} ${list(parts)}`
}

export async function invalidateCommand(args: readonly string[], io: Io): Promise<number> {
  const p = parse(args, SPEC)
  if (p.flags.help) {
    io.stdout.write(INVALIDATE_USAGE)
    return EXIT_OK
  }
  const tags = p.strings.tag ?? []
  const pattern = one(p, 'pattern')
  const user = one(p, 'user')
  const tenant = one(p, 'tenant')
  if (tags.length === 0 && pattern === undefined && user === undefined && tenant === undefined)
    throw new UsageError('nothing to invalidate: give --tag, --pattern, --user or --tenant')
  const input = {
    ...(tags.length > 0 ? { tags } : {}),
    ...(pattern !== undefined ? { pattern } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(tenant !== undefined ? { tenant } : {}),
    ...(p.flags.expire ? { mode: 'expire' as const } : {}),
  }
  let normalized: NormalizedTarget
  try {
    normalized = normalizeTarget(input)
  } catch (err) {
    if (err instanceof CachetInvalidationError) throw usageFrom(err)
    throw err
  }
  const where = target(p, io, { redis: true })
  const timeoutMs = duration(p, 'timeout', '30s')
  const started = performance.now()
  const what = describe(normalized)

  if (where.kind === 'admin') {
    const answer = await adminRequest(
      where.url,
      where.token,
      'POST',
      '/invalidate',
      timeoutMs,
      input,
    )
    if (answer.status !== 200) refuse(answer, `${where.url}/invalidate`)
    const by = (answer.body as { by?: unknown } | undefined)?.by
    io.stdout.write(
      `${what} on every process${typeof by === 'string' ? ` (as ${by})` : ''} in ${formatMs(performance.now() - started)}\n`,
    )
    return EXIT_OK
  }

  const client = await connectRedis(where.url)
  let shards: Shards
  try {
    shards = await resolveShards(client, where.prefix, where.shards)
  } catch (err) {
    client.disconnect()
    throw err
  }
  // The tier without start(): it does not join the bus (no lease, no
  // subscription), so nobody waits for the CLI; its invalidation still waits
  // for every process that holds a lease.
  const tier = new RedisTier({
    client,
    prefix: where.prefix,
    lease: `${where.lease}ms`,
    shards: shards.count,
    timeouts: { invalidate: `${Math.min(timeoutMs, 10_000)}ms` },
  })
  try {
    const plan = {
      tags: [
        ...normalized.tags,
        ...normalized.users.map(userTag),
        ...normalized.tenants.map(tenantTag),
      ],
      patterns: [...normalized.patterns],
      ...(normalized.expire === true ? { expire: true as const } : {}),
    }
    const run = tier.invalidateWithReport(plan)
    let timer: NodeJS.Timeout | undefined
    const report = await Promise.race([
      run,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Failure(`no confirmation within ${formatMs(timeoutMs)}`)),
          timeoutMs,
        )
      }),
    ]).finally(() => clearTimeout(timer))
    const n = report.processes
    io.stdout.write(
      `${what}: durable in Redis (bus seq ${report.seq}${shards.count > 1 ? `, ${shards.count} shards` : ''}), applied by ${n} live ${n === 1 ? 'process' : 'processes'}, in ${formatMs(performance.now() - started)}\n`,
    )
    return EXIT_OK
  } catch (err) {
    if (err instanceof CachetInvalidationError)
      throw new Failure(err.message.replace(/^invalidate\(\): /, ''))
    throw err
  } finally {
    await tier.close().catch(() => {})
    client.disconnect()
  }
}
