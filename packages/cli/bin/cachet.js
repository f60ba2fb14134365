#!/usr/bin/env node
// The `cachet` command. A committed file, unlike dist/, so that npm links it
// (and makes it executable) at install time, before the first build.
try {
  require.resolve('../dist/bin.js')
} catch {
  process.stderr.write('cachet: not built yet: run "npm run build" (tsc -b) first\n')
  process.exit(1)
}
require('../dist/bin.js')
