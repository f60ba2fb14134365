/** Runs the CLI with `args`; resolves with the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
    process.stdout.write('usage: cachet <invalidate|stats|warm> [options]\n')
    return args.length === 0 ? 2 : 0
  }
  process.stderr.write(`cachet: unknown command "${args[0]}" (see cachet --help)\n`)
  return 2
}
