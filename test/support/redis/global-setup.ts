import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  oneLineError,
  type RedisProcess,
  RUN_DIR_ENV,
  startRedis,
  sweepRedisServers,
} from './redis-server'
import { ping } from './resp'
import { REDIS_PID_ENV, REDIS_URL_ENV } from './shared'

// Jest globalSetup: one throwaway redis-server for the whole run, its URL and pid
// in CACHET_TEST_REDIS_URL / CACHET_TEST_REDIS_PID (inherited by the workers, which
// Jest spawns after this). An already set CACHET_TEST_REDIS_URL is used as is.
// Every server of the run (this one and those test files start) lives under one
// run dir, so the exit and signal hooks below, and the teardown, can kill them all
// by pid even when a test file or a worker did not stop its own.

export interface SharedRedisState {
  server: RedisProcess | undefined
  runDir: string
  ownedEnv: string[]
  unhook: () => void
}

const STATE = Symbol.for('cachet.test.redis')

export function sharedRedisState(): SharedRedisState | undefined {
  return (globalThis as Record<symbol, SharedRedisState | undefined>)[STATE]
}

export function setSharedRedisState(state: SharedRedisState | undefined): void {
  ;(globalThis as Record<symbol, SharedRedisState | undefined>)[STATE] = state
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function isLive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function hook(runDir: string): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  const onExit = () => sweepRedisServers(runDir)
  const onSignal = async (signal: NodeJS.Signals) => {
    unhook()
    const killed = sweepRedisServers(runDir)
    // Give Node a moment to reap its own children (the shared server, servers of
    // in-band test files), so they do not linger as zombies, ...
    for (let waited = 0; waited < 500 && killed.some(isLive); waited += 10) await sleep(10)
    // ... then let the signal do what it would have done had we not listened,
    // unless someone else handles it.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  }
  const unhook = () => {
    process.off('exit', onExit)
    for (const s of signals) process.off(s, onSignal)
  }
  process.on('exit', onExit)
  for (const s of signals) process.on(s, onSignal)
  return unhook
}

export default async function globalSetup(): Promise<void> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cachet-redis-run-'))
  const state: SharedRedisState = {
    server: undefined,
    runDir,
    ownedEnv: [RUN_DIR_ENV],
    unhook: hook(runDir),
  }
  setSharedRedisState(state)
  process.env[RUN_DIR_ENV] = runDir

  const given = process.env[REDIS_URL_ENV]
  if (given) {
    if (!(await ping(given, 2000))) {
      throw oneLineError(`${REDIS_URL_ENV}=${given} does not answer PING`)
    }
    return
  }
  state.server = await startRedis()
  process.env[REDIS_URL_ENV] = state.server.url
  process.env[REDIS_PID_ENV] = String(state.server.pid)
  state.ownedEnv.push(REDIS_URL_ENV, REDIS_PID_ENV)
}
