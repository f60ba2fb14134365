import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, Failure, type Io, UsageError } from './args'
import { INVALIDATE_USAGE, invalidateCommand } from './commands/invalidate'
import { STATS_USAGE, statsCommand } from './commands/stats'
import { WARM_USAGE, warmCommand } from './commands/warm'

export type { Io } from './args'
export { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './args'

export const USAGE = `usage: cachet <command> [options]

Commands:
  invalidate   invalidate by --tag, --pattern, --user or --tenant, in every process of the cluster
  stats        the state of the cache: through Redis (the cluster) or an admin API (one process)
  warm         have the app fetch URLs (a list, a file, or its most requested) into the cache

Each talks to Redis directly (--redis URL [--namespace NS] [--shards N], URL being
redis://host:port, host:port,host:port cluster seeds, or sentinel://host:port/<master>)
or to an admin API (--admin URL --token T | --token-env VAR); warm needs the admin API.

  cachet <command> --help    the command's options
  cachet --version

Exit codes: 0 done, 1 failed (Redis or the admin API unreachable, an invalidation not
confirmed, a refused token, a URL that could not be warmed), 2 usage error.
`

const COMMANDS: Record<
  string,
  { run: (args: readonly string[], io: Io) => Promise<number>; usage: string }
> = {
  invalidate: { run: invalidateCommand, usage: INVALIDATE_USAGE },
  stats: { run: statsCommand, usage: STATS_USAGE },
  warm: { run: warmCommand, usage: WARM_USAGE },
}

function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    readText: async (path) => {
      if (path !== '-') return readFile(path, 'utf8')
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      return Buffer.concat(chunks).toString('utf8')
    },
  }
}

function version(): string {
  try {
    return (
      JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
    ).version
  } catch {
    return 'unknown'
  }
}

/** Runs the CLI with `args`; resolves with the exit code (0 ok, 1 failed, 2 usage). Never rejects. */
export async function main(args: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = args
  if (name === undefined) {
    io.stderr.write(USAGE)
    return EXIT_USAGE
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS[rest[0] ?? ''] : undefined
    io.stdout.write(topic?.usage ?? USAGE)
    return EXIT_OK
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`cachet ${version()}\n`)
    return EXIT_OK
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    io.stderr.write(
      `cachet: unknown command "${name}" (expected invalidate, stats or warm; see cachet --help)\n`,
    )
    return EXIT_USAGE
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cachet ${name}: ${err.message} (see cachet ${name} --help)\n`)
      return EXIT_USAGE
    }
    const message =
      err instanceof Failure
        ? err.message
        : `unexpected error: ${(err as Error)?.message ?? String(err)}`
    io.stderr.write(`cachet ${name}: ${message}\n`)
    return EXIT_FAILED
  }
}
