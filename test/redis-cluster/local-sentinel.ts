import { oneLineError, type RedisProcess, startRedis, waitFor } from '../support/redis/redis-server'
import { type RespReply, redisCommand } from '../support/redis/resp'

export interface LocalSentinelOptions {
  /** The master's name in Sentinel. Default `cachet-test`. */
  name?: string
  /** `sentinel down-after-milliseconds`. Default 1000. */
  downAfterMs?: number
  /** `sentinel failover-timeout`. Default 3000. */
  failoverTimeoutMs?: number
}

export interface SentinelFailover {
  /** The master's port before. */
  from: number
  /** The master's port after (the replica's before). */
  to: number
  /** From SENTINEL FAILOVER until the old master replicates from the new one. */
  ms: number
}

export interface LocalSentinel {
  /** `sentinel://127.0.0.1:<sentinelPort>/<name>` */
  url: string
  name: string
  sentinelPort: number
  /** The data servers in start order: the first master, then its replica. */
  servers: RedisProcess[]
  /** The Sentinel process (`redis-server <conf> --sentinel`). */
  sentinel: RedisProcess
  /** The current master's port, as Sentinel reports it. */
  master(): Promise<number>
  /**
   * SENTINEL FAILOVER, then waits until Sentinel reports the new master, the new
   * master's ROLE is master, the old one's is slave (demoted by Sentinel) with its
   * link up, and Sentinel sees that replica healthy (so another failover can follow).
   */
  failover(): Promise<SentinelFailover>
  /** Stops the Sentinel, then both servers, by pid. */
  stop(): Promise<void>
}

const PROBE_TIMEOUT_MS = 1000

/**
 * A master, one replica (`replicaof`) and ONE Sentinel (quorum 1) on free loopback
 * ports. Resolves once Sentinel has found the replica, so that a failover can
 * succeed right away.
 */
export async function startLocalSentinel(opts: LocalSentinelOptions = {}): Promise<LocalSentinel> {
  const name = opts.name ?? 'cachet-test'
  const downAfterMs = opts.downAfterMs ?? 1000
  const failoverTimeoutMs = opts.failoverTimeoutMs ?? 3000
  // Either server may become the master: full syncs start at once, not after the
  // default 5 s wait for more replicas to join.
  const serverArgs = ['--repl-diskless-sync-delay', '0']

  const started: RedisProcess[] = []
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      const [first, ...rest] = [...started].reverse() // the Sentinel first
      await first?.stop()
      await Promise.all(rest.map((p) => p.stop()))
    })()
    return stopping
  }

  let settled: (masterPort: number, replicaPort: number) => Promise<true | string>
  let sentinel: RedisProcess
  let servers: RedisProcess[]
  try {
    const master = await startRedis({ args: serverArgs })
    started.push(master)
    const replica = await startRedis({
      args: [...serverArgs, '--replicaof', '127.0.0.1', String(master.port)],
    })
    started.push(replica)
    servers = [master, replica]
    sentinel = await startRedis({
      sentinel: true,
      config: [
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    })
    started.push(sentinel)
    // Sentinel refreshes INFO every 10 s and waits 4 hello periods (8 s) before it
    // demotes an old master that still says it is one: far too slow for tests.
    await redisCommand(sentinel.port, [
      'SENTINEL',
      'DEBUG',
      'info-period',
      100,
      'publish-period',
      100,
    ])

    const sentinelPort = sentinel.port
    settled = async (masterPort, replicaPort) => {
      const cmd = (port: number, args: (string | number)[]) =>
        redisCommand(port, args, { timeoutMs: PROBE_TIMEOUT_MS })
      const addr = await cmd(sentinelPort, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])
      const reported = Array.isArray(addr) ? Number(addr[1]) : undefined
      if (reported !== masterPort) return `sentinel reports master :${reported}`
      const m = fields(await cmd(sentinelPort, ['SENTINEL', 'MASTER', name]))
      if (m.flags !== 'master') return `sentinel's master flags ${m.flags}`
      const replicas = await cmd(sentinelPort, ['SENTINEL', 'REPLICAS', name])
      const r = (Array.isArray(replicas) ? replicas : [])
        .map(fields)
        .find((f) => Number(f.port) === replicaPort)
      if (!r) return `sentinel does not know replica :${replicaPort}`
      if (
        r.flags !== 'slave' ||
        r['role-reported'] !== 'slave' ||
        r['master-link-status'] !== 'ok'
      ) {
        return `sentinel sees replica :${replicaPort} as ${r.flags}, ${r['role-reported']}, link ${r['master-link-status']}`
      }
      if (Number(r['master-port']) !== masterPort) {
        return `sentinel sees replica :${replicaPort} replicating :${r['master-port']}`
      }
      const newRole = await cmd(masterPort, ['ROLE'])
      if (!Array.isArray(newRole) || newRole[0] !== 'master') {
        return `:${masterPort} ROLE ${String(Array.isArray(newRole) ? newRole[0] : newRole)}`
      }
      const oldRole = await cmd(replicaPort, ['ROLE'])
      if (!Array.isArray(oldRole) || oldRole[0] !== 'slave' || Number(oldRole[2]) !== masterPort) {
        return `:${replicaPort} ROLE ${Array.isArray(oldRole) ? oldRole.slice(0, 4).join(' ') : String(oldRole)}`
      }
      const info = String(await cmd(replicaPort, ['INFO', 'replication']))
      if (!info.includes('master_link_status:up')) return `:${replicaPort} master link down`
      return true
    }
    await waitFor(`local sentinel: ${name} not ready`, 15_000, () =>
      settled(master.port, replica.port),
    )
  } catch (err) {
    await stop()
    throw err
  }

  const other = (port: number) => {
    const s = servers.find((p) => p.port !== port)
    if (!s || !servers.some((p) => p.port === port)) {
      throw oneLineError(
        `local sentinel: master :${port} is none of :${servers.map((p) => p.port)}`,
      )
    }
    return s.port
  }

  const masterPort = async () => {
    const addr = await redisCommand(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])
    if (!Array.isArray(addr)) throw oneLineError(`sentinel does not know ${name}`)
    return Number(addr[1])
  }

  const failover = async (): Promise<SentinelFailover> => {
    const from = await masterPort()
    const to = other(from)
    const t0 = Date.now()
    // Sentinel refuses while it still wraps up a failover (INPROG) or does not yet
    // trust the replica (NOGOODSLAVE): retry those for a moment.
    for (const deadline = t0 + 5000; ; ) {
      try {
        await redisCommand(sentinel.port, ['SENTINEL', 'FAILOVER', name])
        break
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        if (!/^(INPROG|NOGOODSLAVE)/.test(message) || Date.now() > deadline) {
          throw oneLineError(`failover: SENTINEL FAILOVER ${name}: ${message}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    await waitFor(
      `failover: :${to} did not take over from :${from}`,
      Math.max(15_000, failoverTimeoutMs * 3),
      () => settled(to, from),
    )
    return { from, to, ms: Date.now() - t0 }
  }

  return {
    url: `sentinel://127.0.0.1:${sentinel.port}/${name}`,
    name,
    sentinelPort: sentinel.port,
    servers,
    sentinel,
    master: masterPort,
    failover,
    stop,
  }
}

/** A flat `[k1, v1, k2, v2, ...]` reply as an object. */
function fields(reply: RespReply): Record<string, string> {
  const out: Record<string, string> = {}
  if (!Array.isArray(reply)) return out
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1])
  return out
}
