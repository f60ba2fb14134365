import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { oneLineError, type RedisProcess, startRedis, waitFor } from '../support/redis/redis-server'
import { redisCommand } from '../support/redis/resp'

const run = promisify(execFile)

export interface LocalClusterOptions {
  /** 1: three masters with one replica each (six nodes). Default 0: three masters. */
  replicas?: 0 | 1
  /** `cluster-node-timeout`: 2000 ms without replicas, 1000 ms with them by default. */
  nodeTimeoutMs?: number
}

/** One node as CLUSTER NODES of a live node sees it. */
export interface ClusterNodeRole {
  port: number
  role: 'master' | 'replica'
  /** A replica's master (undefined when its master is not known by address). */
  masterPort?: number
  /** How many slots the node serves (0 for replicas and for masters that lost theirs). */
  slots: number
  /** Flagged `fail` (not just `fail?`): e.g. a killed node, until it comes back. */
  failed: boolean
}

export interface KilledMaster {
  /** The port of the master that was SIGKILLed. */
  killed: number
  /** The port of its replica, now the master of its slots. */
  promoted: number
  /** From the kill until every live node saw the promotion and `cluster_state:ok`. */
  ms: number
}

export interface LocalCluster {
  /** `host:port,host:port,...` of every node: the seeds form of REDIS_URL. */
  seeds: string
  nodes: RedisProcess[]
  /** Every node known to the first live node (by our start order), sorted by port. */
  roles(): Promise<ClusterNodeRole[]>
  /**
   * SIGKILLs (by its pid) a master that has a live replica, `port` or else the
   * first such master, and waits until every live node sees that replica as the
   * master of the slots and reports `cluster_state:ok`.
   */
  killMaster(port?: number): Promise<KilledMaster>
  /**
   * Starts a killed node again on its port and dir (its nodes.conf kept) and waits
   * until every live node sees it, the cluster is ok and, when it came back as a
   * replica (a killed master does, of its promoted replica), its link is up.
   */
  restartNode(port: number): Promise<{ ms: number }>
  /** Stops every node still running, by pid. */
  stop(): Promise<void>
}

const MASTERS = 3
const SLOTS = 16384
const PROBE_TIMEOUT_MS = 1000

/**
 * Three masters (no replicas by default, or one replica each) on free loopback
 * ports, joined with `redis-cli --cluster create`; stopped by pid.
 */
export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const replicas = opts.replicas ?? 0
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? (replicas > 0 ? 1000 : 2000)
  const args = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
  ]
  if (replicas > 0) {
    args.push(
      // A replica may take over however long its link has been down (it never is for long here).
      '--cluster-replica-validity-factor',
      '0',
      // No replica wanders to another master: the layout stays the one created.
      '--cluster-allow-replica-migration',
      'no',
      // Full syncs start at once, not after the default 5 s wait for more replicas.
      '--repl-diskless-sync-delay',
      '0',
    )
  }

  const nodes: RedisProcess[] = []
  const all: RedisProcess[] = [] // nodes, kept after stop() empties `nodes`
  const stop = async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
  }
  const byPort = (port: number) => all.find((n) => n.port === port)
  const live = () => nodes.filter((n) => n.alive)

  const roles = async (): Promise<ClusterNodeRole[]> => {
    const asked = live()[0]
    if (!asked) throw oneLineError('roles(): no cluster node is running')
    return parseClusterNodes(await clusterNodes(asked.port))
  }

  try {
    const started = await Promise.allSettled(
      Array.from({ length: MASTERS * (1 + replicas) }, () => startRedis({ args })),
    )
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value)
    all.push(...nodes)
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason

    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`)
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...addresses,
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 20_000 },
    )
    // Wait until every node agrees that all slots are served (and, with replicas,
    // that each master has its replica, whose link is up).
    await waitFor('local cluster: not every node ok', 15_000, () =>
      clusterSettled(nodes, (view) => {
        const masters = view.filter((r) => r.role === 'master' && r.slots > 0)
        if (masters.length !== MASTERS) return `${masters.length} masters with slots`
        if (replicas === 0) return true
        for (const m of masters) {
          const own = view.filter((r) => r.role === 'replica' && r.masterPort === m.port)
          if (own.length !== replicas) return `master :${m.port} has ${own.length} replicas`
        }
        return true
      }),
    )
    if (replicas > 0) {
      const view = await roles()
      await waitFor('local cluster: replication links not up', 10_000, async () => {
        for (const r of view) {
          if (r.role === 'replica' && !(await replicaLinkUp(r.port))) {
            return `replica :${r.port} link down`
          }
        }
        return true
      })
    }
  } catch (err) {
    await stop()
    throw err
  }

  // Failure detection (node timeout), the FAIL vote, the replica's 0.5–1 s election
  // delay and the election itself: a few node timeouts; generous for slow CI.
  const failoverTimeoutMs = Math.max(15_000, nodeTimeoutMs * 10)

  const killMaster = async (port?: number): Promise<KilledMaster> => {
    const view = await roles()
    const liveReplicaOf = (master: number) =>
      view.find(
        (r) =>
          r.role === 'replica' && r.masterPort === master && !r.failed && byPort(r.port)?.alive,
      )
    const candidates = view.filter(
      (r) => r.role === 'master' && r.slots > 0 && !r.failed && byPort(r.port)?.alive,
    )
    const target =
      port === undefined
        ? candidates.find((m) => liveReplicaOf(m.port))
        : candidates.find((m) => m.port === port)
    if (!target) {
      throw oneLineError(
        port === undefined
          ? `killMaster: no live master with a live replica (${describeRoles(view)})`
          : `killMaster: :${port} is not a live master of this cluster (${describeRoles(view)})`,
      )
    }
    const replica = liveReplicaOf(target.port)
    if (!replica) {
      throw oneLineError(`killMaster: master :${target.port} has no live replica`)
    }
    const node = byPort(target.port) as RedisProcess
    const t0 = Date.now()
    await node.kill()
    await waitFor(
      `killMaster: replica :${replica.port} did not take over from killed :${target.port}`,
      failoverTimeoutMs,
      () =>
        clusterSettled(live(), (seen) => {
          const promoted = seen.find((r) => r.port === replica.port)
          if (promoted?.role !== 'master' || promoted.slots !== target.slots) {
            return `:${replica.port} is ${promoted?.role ?? 'unknown'} with ${promoted?.slots ?? 0} slots`
          }
          return true
        }),
    )
    return { killed: target.port, promoted: replica.port, ms: Date.now() - t0 }
  }

  const restartNode = async (port: number): Promise<{ ms: number }> => {
    const node = nodes.find((n) => n.port === port)
    if (!node) throw oneLineError(`restartNode: :${port} is not a running cluster node`)
    if (node.alive) throw oneLineError(`restartNode: :${port} is still running (kill it first)`)
    const t0 = Date.now()
    await node.restart()
    await waitFor(`restartNode: :${port} did not rejoin`, failoverTimeoutMs, async () => {
      // Every live node (the restarted one too) sees it alive, in one and the same role.
      const seenAs = new Set<string>()
      const settled = await clusterSettled(live(), (seen) => {
        const me = seen.find((r) => r.port === port)
        if (!me || me.failed) return `:${port} is ${me ? 'failed' : 'unknown'}`
        if (me.role === 'replica' && me.masterPort === undefined) return `:${port} has no master`
        seenAs.add(describeRoles([me]))
        return true
      })
      if (settled !== true) return settled
      if (seenAs.size > 1) return `nodes disagree: ${[...seenAs].join(' / ')}`
      const me = parseClusterNodes(await clusterNodes(port)).find((r) => r.port === port)
      if (me?.role === 'replica' && !(await replicaLinkUp(port))) return `:${port} link down`
      return true
    })
    return { ms: Date.now() - t0 }
  }

  return {
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    nodes,
    roles,
    killMaster,
    restartNode,
    stop,
  }
}

// ---------------------------------------------------------------------------
// CLUSTER NODES, CLUSTER INFO, INFO replication

async function clusterNodes(port: number): Promise<string> {
  return String(await redisCommand(port, ['CLUSTER', 'NODES'], { timeoutMs: PROBE_TIMEOUT_MS }))
}

/**
 * True when every node in `nodes` reports `cluster_state:ok` and `check` accepts its
 * view (CLUSTER NODES); else what is missing, for waitFor's error.
 */
async function clusterSettled(
  nodes: readonly RedisProcess[],
  check: (view: ClusterNodeRole[]) => true | string,
): Promise<true | string> {
  if (nodes.length === 0) return 'no node is running'
  for (const n of nodes) {
    const info = String(
      await redisCommand(n.port, ['CLUSTER', 'INFO'], { timeoutMs: PROBE_TIMEOUT_MS }),
    )
    if (!info.includes('cluster_state:ok')) {
      return `:${n.port} ${/cluster_state:\w+/.exec(info)?.[0] ?? 'no cluster_state'}`
    }
    const verdict = check(parseClusterNodes(await clusterNodes(n.port)))
    if (verdict !== true) return `as :${n.port} sees it, ${verdict}`
  }
  return true
}

async function replicaLinkUp(port: number): Promise<boolean> {
  const info = String(
    await redisCommand(port, ['INFO', 'replication'], { timeoutMs: PROBE_TIMEOUT_MS }),
  )
  return info.includes('master_link_status:up')
}

/**
 * CLUSTER NODES lines (`id ip:port@cport[,hostname] flags master-id ping pong epoch
 * link slot...`) as roles, sorted by port; nodes still in handshake or without an
 * address are left out.
 */
export function parseClusterNodes(text: string): ClusterNodeRole[] {
  const rows = text
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((f) => f.length >= 8)
  const portById = new Map<string, number>()
  for (const f of rows) {
    const port = Number(/:(\d+)@/.exec(f[1] ?? '')?.[1])
    if (Number.isInteger(port) && port > 0) portById.set(f[0] as string, port)
  }
  const roles: ClusterNodeRole[] = []
  for (const f of rows) {
    const flags = (f[2] ?? '').split(',')
    const port = portById.get(f[0] as string)
    if (port === undefined || flags.includes('handshake') || flags.includes('noaddr')) continue
    let slots = 0
    for (const range of f.slice(8)) {
      if (range.startsWith('[')) continue // a slot being imported or migrated
      const [from, to = from] = range.split('-').map(Number)
      if (Number.isInteger(from) && Number.isInteger(to))
        slots += (to as number) - (from as number) + 1
    }
    const failed = flags.includes('fail')
    if (flags.includes('master')) {
      roles.push({ port, role: 'master', slots, failed })
    } else if (flags.includes('slave')) {
      roles.push({ port, role: 'replica', masterPort: portById.get(f[3] ?? '-'), slots, failed })
    }
  }
  return roles.sort((a, b) => a.port - b.port)
}

function describeRoles(view: readonly ClusterNodeRole[]): string {
  return view
    .map(
      (r) =>
        `:${r.port} ${r.role}${r.masterPort ? ` of :${r.masterPort}` : ''}` +
        `${r.slots ? ` ${r.slots}/${SLOTS} slots` : ''}${r.failed ? ' failed' : ''}`,
    )
    .join(', ')
}
