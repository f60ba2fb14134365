#!/usr/bin/env node
import { main } from './index'

// Exits as soon as the command is done: a connection or timer left behind
// (a lease wait cut short by --timeout, say) must not keep a script waiting.
// stdout and stderr are synchronous for files, pipes and terminals on Linux.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cachet: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
