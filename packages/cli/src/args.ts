import { parseArgs } from 'node:util'
import { parseDuration } from '@cachet/core'
import { sentinelOptions } from '@cachet/core/redis'

/** Exit codes: documented in `cachet --help` and docs/operating.md (Command line). */
export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

/** A mistake in the command line: exit 2, with a hint to `--help`. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** The command could not do its job (Redis or the admin API unreachable, refused, failed): exit 1. */
export class Failure extends Error {
  override readonly name = 'Failure'
}

/** What the commands write to and read from; the process's own by default. */
export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean }
  stderr: { write(text: string): unknown }
  env: NodeJS.ProcessEnv
  /** Reads a file, or standard input for `-`. */
  readText(path: string): Promise<string>
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>

export type Parsed = { strings: Record<string, string[]>; flags: Record<string, boolean> }

/**
 * Parses `args` strictly: unknown options, missing values and positional
 * arguments are usage errors with a short message. Every string option may
 * repeat (`one()` refuses repeats where they make no sense).
 */
export function parse(args: readonly string[], spec: OptionSpec): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple: boolean; short?: string }> =
    {}
  for (const [name, o] of Object.entries(spec)) {
    options[name] = {
      type: o.type,
      multiple: o.type === 'string',
      ...(o.short ? { short: o.short } : {}),
    }
  }
  let values: Record<string, unknown>
  try {
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new UsageError(argsProblem(err as Error & { code?: string }))
  }
  const strings: Record<string, string[]> = {}
  const flags: Record<string, boolean> = {}
  for (const [name, o] of Object.entries(spec)) {
    if (o.type === 'string') strings[name] = (values[name] as string[] | undefined) ?? []
    else flags[name] = values[name] === true
  }
  return { strings, flags }
}

function argsProblem(err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? ''
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted}`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}"`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = quoted.split(' ')[0]
      return /ambiguous/.test(err.message)
        ? `option ${option} needs a value (write ${option}=-value for one starting with "-")`
        : `option ${option} needs a value`
    }
    default:
      return err.message.split('\n')[0] ?? 'bad arguments'
  }
}

/** The value of an option given at most once. */
export function one(p: Parsed, name: string): string | undefined {
  const all = p.strings[name] ?? []
  if (all.length > 1) throw new UsageError(`give --${name} once`)
  return all[0]
}

/** A duration option (`2s`, `500ms`, `1.5`): milliseconds. */
export function duration(p: Parsed, name: string, fallback: string): number {
  const raw = one(p, name) ?? fallback
  const ms = parseDuration(raw)
  if (typeof ms === 'string' || ms <= 0)
    throw new UsageError(`--${name}: expected a duration like 2s or 500ms, got "${raw}"`)
  return ms
}

/** A whole-number option within bounds. */
export function count(p: Parsed, name: string, min: number, max: number): number | undefined {
  const raw = one(p, name)
  if (raw === undefined) return undefined
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!(n >= min && n <= max))
    throw new UsageError(`--${name}: expected a whole number from ${min} to ${max}, got "${raw}"`)
  return n
}

/** Most shards a prefix can have (redisTier's own bound). */
export const MAX_SHARDS = 1024

/** Where a command talks to: Redis directly, or an admin API. */
export type Target =
  | {
      kind: 'redis'
      url: string
      prefix: string
      lease: number
      /** `--shards`, when given (else what Redis records, or the default: see shards.ts). */
      shards: number | undefined
    }
  | { kind: 'admin'; url: string; token: string }

export const REDIS_OPTIONS: OptionSpec = {
  redis: { type: 'string' },
  namespace: { type: 'string' },
  prefix: { type: 'string' },
  lease: { type: 'string' },
  shards: { type: 'string' },
}

export const ADMIN_OPTIONS: OptionSpec = {
  admin: { type: 'string' },
  token: { type: 'string' },
  'token-env': { type: 'string' },
}

const REDIS_URL = /^rediss?:\/\/\S+$/
const CLUSTER_SEEDS = /^[^\s,:/]+:\d+(,[^\s,:/]+:\d+)*$/
const PREFIX = /^[\w.:-]{1,64}$/
/** The engine's `namespace` option (no ":", unlike a tier prefix). */
const NAMESPACE = /^[\w.-]{1,64}$/

/** `sentinel://[[user]:password@]host:port[,host:port…]/<master name>[?db=N]`, as redisTier reads it. */
export function isSentinelUrl(url: string): boolean {
  return url.startsWith('sentinel://') && sentinelOptions(url) !== undefined
}

/**
 * The key prefix an app's Redis tier uses: `--prefix` (its redisTier's
 * `prefix`), else `--namespace` (its cache's `namespace`, which a tier
 * without a prefix takes), else `cachet`. Both given must agree, as the app
 * itself refuses a namespace that differs from its tier's prefix.
 */
function redisPrefix(p: Parsed): string {
  const namespace = one(p, 'namespace')
  const given = one(p, 'prefix')
  if (namespace !== undefined && !NAMESPACE.test(namespace))
    throw new UsageError(
      `--namespace: expected 1 to 64 letters, digits, "_", "-" or ".", got "${namespace}"`,
    )
  if (given !== undefined && !PREFIX.test(given))
    throw new UsageError(
      `--prefix: expected 1 to 64 letters, digits, "_", "-", "." or ":", got "${given}"`,
    )
  if (namespace !== undefined && given !== undefined && namespace !== given)
    throw new UsageError(
      `--namespace ${namespace} and --prefix ${given} disagree: give the app's namespace, or its redisTier prefix if it sets one`,
    )
  return given ?? namespace ?? 'cachet'
}

/** `--redis URL [--namespace NS | --prefix P] [--lease D] [--shards N]` or `--admin URL --token T | --token-env VAR`. */
export function target(p: Parsed, io: Io, allowed: { redis: boolean }): Target {
  const redis = one(p, 'redis')
  const admin = one(p, 'admin')
  if (redis !== undefined && admin !== undefined)
    throw new UsageError('give either --redis or --admin, not both')
  if (redis === undefined && admin === undefined)
    throw new UsageError(allowed.redis ? 'give --redis URL or --admin URL' : 'give --admin URL')
  if (redis !== undefined) {
    if (!allowed.redis)
      throw new UsageError('this command needs --admin URL (the app does the work)')
    for (const name of ['token', 'token-env'])
      if ((p.strings[name] ?? []).length > 0)
        throw new UsageError(`--${name} goes with --admin, not --redis`)
    if (!REDIS_URL.test(redis) && !CLUSTER_SEEDS.test(redis) && !isSentinelUrl(redis))
      throw new UsageError(
        `--redis: expected redis://host:port (or rediss://, host:port,host:port cluster seeds, or sentinel://host:port[,host:port]/<master name>), got "${redis}"`,
      )
    const prefix = redisPrefix(p)
    const lease = duration(p, 'lease', '3s')
    const shards = count(p, 'shards', 1, MAX_SHARDS)
    return { kind: 'redis', url: redis, prefix, lease, shards }
  }
  for (const name of ['namespace', 'prefix', 'lease', 'shards'])
    if ((p.strings[name] ?? []).length > 0)
      throw new UsageError(`--${name} goes with --redis, not --admin`)
  let url: URL
  try {
    url = new URL(admin as string)
  } catch {
    throw new UsageError(
      `--admin: expected the admin API's URL, like http://127.0.0.1:3000/admin/cache, got "${admin}"`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--admin: expected an http:// or https:// URL, got "${admin}"`)
  const token = one(p, 'token')
  const tokenEnv = one(p, 'token-env')
  if (token !== undefined && tokenEnv !== undefined)
    throw new UsageError('give either --token or --token-env, not both')
  if (token === undefined && tokenEnv === undefined)
    throw new UsageError(
      '--admin needs --token T or --token-env VAR (the name of a variable holding the token)',
    )
  const value = token ?? io.env[tokenEnv as string]
  if (value === undefined || value === '')
    throw new UsageError(
      token !== undefined ? '--token is empty' : `--token-env: the variable ${tokenEnv} is not set`,
    )
  return { kind: 'admin', url: url.href.replace(/\/+$/, ''), token: value }
}
