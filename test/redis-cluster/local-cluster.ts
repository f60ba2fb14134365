import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { type RedisProcess, startRedis } from '../support/redis/redis-server'

const run = promisify(execFile)

export interface LocalCluster {
  /** `host:port,host:port,host:port`: the seeds form of REDIS_URL. */
  seeds: string
  nodes: RedisProcess[]
  stop(): Promise<void>
}

/**
 * Three masters (no replicas) on free loopback ports, joined with
 * `redis-cli --cluster create`; stopped by pid.
 */
export async function startLocalCluster(): Promise<LocalCluster> {
  const nodes: RedisProcess[] = []
  const stop = async () => {
    for (const n of nodes.splice(0)) await n.stop()
  }
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startRedis({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
          ],
        }),
      )
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`)
    await run(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      {
        timeout: 20_000,
      },
    )
    // Wait until every node agrees that all slots are served.
    for (const n of nodes) await waitClusterOk(n.port)
    return { seeds: addresses.join(','), nodes, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

async function waitClusterOk(port: number): Promise<void> {
  const until = Date.now() + 15_000
  for (;;) {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info'])
    if (stdout.includes('cluster_state:ok')) return
    if (Date.now() > until) throw new Error(`cluster node ${port} not ok: ${stdout.split('\n')[0]}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
