import { Cluster, type ClusterNode, type Redis } from 'ioredis'

/**
 * What ioredis says when a command finds no connection: its own state, not
 * the reason. Messages replace it with the last socket error (see `causeOf`).
 */
const CLIENT_STATE =
  /Stream isn't writeable and enableOfflineQueue options is false|Connection is closed\.|Command aborted due to connection close|Reached the max retries per request limit \(which is \d+\)\. Refer to "maxRetriesPerRequest" option for details\.|Cluster isn't ready and enableOfflineQueue options is false|Failed to refresh slots cache\./

interface SocketError extends Error {
  code?: unknown
  address?: unknown
  port?: unknown
  hostname?: unknown
  lastNodeError?: unknown
}

/**
 * A socket error in a few words: `ECONNREFUSED 127.0.0.1:6392`, `ENOTFOUND
 * redis.internal`, `ETIMEDOUT 10.0.0.5:6379` (`target` when the error names
 * no address); any other error's message.
 */
export function socketCause(error: Error, target: string): string {
  const e = error as SocketError
  if (e.lastNodeError instanceof Error) return socketCause(e.lastNodeError, target)
  if (typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) return error.message
  if (typeof e.address === 'string')
    return `${e.code} ${e.address}${typeof e.port === 'number' ? `:${e.port}` : ''}`
  return `${e.code} ${typeof e.hostname === 'string' ? e.hostname : target}`
}

/** Where a client connects, as a URL without its password (`redis://app:***@cache:6379/2`). */
export function clientLocation(client: Redis | Cluster): string {
  if (client instanceof Cluster) {
    // The seeds it was given (private in the types, stable in ioredis 5).
    const seeds = (client as unknown as { startupNodes: ClusterNode[] }).startupNodes
    return seeds
      .map((n) =>
        typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n),
      )
      .join(',')
  }
  const o = client.options
  const auth = o.username || o.password ? `${o.username ?? ''}${o.password ? ':***' : ''}@` : ''
  if (o.sentinels) {
    const hosts = o.sentinels.map((s) => `${s.host ?? '127.0.0.1'}:${s.port ?? 26379}`)
    return `sentinel://${auth}${hosts.join(',')}/${o.name ?? ''}`
  }
  if (o.path) return `redis+unix://${o.path}`
  const db = o.db ? `/${o.db}` : ''
  return `${o.tls ? 'rediss' : 'redis'}://${auth}${o.host ?? '127.0.0.1'}:${o.port ?? 6379}${db}`
}

/**
 * Follows a client's connection for the log: remembers the last socket error
 * (ioredis swallows it, and a command then fails with "Stream isn't
 * writeable"), and reports when the connection cannot be made or is made.
 */
export class ConnectionWatch {
  readonly location: string
  readonly #target: string
  readonly #client: Redis | Cluster
  #cause: string | undefined
  #report: ((up: boolean, cause?: string) => void) | undefined

  constructor(client: Redis | Cluster) {
    this.#client = client
    this.location = clientLocation(client)
    this.#target = this.location.replace(/^[a-z+]+:\/\/([^@/]*@)?/, '').replace(/\/.*$/, '')
    client.on('error', (err: Error) => {
      this.#cause = socketCause(err, this.#target)
      // While ready, an error is followed by a close and a reconnection: its
      // outcome says whether the connection is down.
      if (client.status !== 'ready') this.#report?.(false, this.#cause)
    })
    if (client instanceof Cluster) {
      client.on('node error', (err: Error, address: string) => {
        this.#cause = socketCause(err, address)
      })
    }
    client.on('close', () => {
      this.#cause ??= 'the connection closed'
    })
    client.on('ready', () => {
      this.#cause = undefined
      this.#report?.(true)
    })
  }

  /** From now on, connection changes go to `report`, starting with the current state if known. */
  reportTo(report: ((up: boolean, cause?: string) => void) | undefined): void {
    this.#report = report
    if (this.#client.status === 'ready') report?.(true)
    else if (this.#cause !== undefined) report?.(false, this.#cause)
  }

  /** `error`'s message, with ioredis's words for a missing connection replaced by the cause. */
  causeOf(error: Error): string {
    const code = (error as SocketError).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return socketCause(error, this.#target)
    if (!CLIENT_STATE.test(error.message)) return error.message
    return error.message.replace(CLIENT_STATE, this.#cause ?? `not connected to ${this.#target}`)
  }
}
