import { setSharedRedisState, sharedRedisState } from './global-setup'
import { sweepRedisServers } from './redis-server'

// Jest globalTeardown: stops the shared server by its pid (SIGTERM, then SIGKILL),
// kills by pid any server a test file left running, and forgets the env it set
// (so that a watch-mode re-run starts a fresh server).
export default async function globalTeardown(): Promise<void> {
  const state = sharedRedisState()
  if (!state) return
  try {
    await state.server?.stop()
  } finally {
    const leaked = sweepRedisServers(state.runDir)
    if (leaked.length > 0) {
      process.stderr.write(
        `cachet tests: killed redis-server pid ${leaked.join(', ')} left running by a test\n`,
      )
    }
    state.unhook()
    for (const name of state.ownedEnv) delete process.env[name]
    setSharedRedisState(undefined)
  }
}
