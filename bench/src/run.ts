import { spawnSync } from 'node:child_process'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { Apps } from './app-pool'
import type { BenchData } from './data'
import { flood } from './flood'
import { invalidation } from './invalidation'
import { buildStamps, changedBuilds, machine } from './machine'
import { APPS, mainMeasurements, STAMPEDE_APPS, scalingMeasurements } from './matrix'
import { parseOptions } from './options'
import { writeResults } from './output'
import { killAll, LOAD_CPU, SERVER_CPU, TASKSET } from './procs'
import { runProfiles } from './profiling'
import { elapsed, log, started } from './progress'
import { startRedis } from './redis'
import { report } from './report'
import { runRounds } from './rounds'
import { SLOW_ORIGIN_MS } from './shared'
import { STAMPEDE_REQUESTS, stampede } from './stampede'

// `npm run bench`: starts each app as its own process (pinned to one core),
// drives it from a load generator pinned to the other core, alternating the
// configurations within each round, and writes bench/results/latest.md.
// This file is the entry (bench/dist/run.js): it runs the phases in order;
// each phase, the options, the apps and the output have a file of their own.

export { type Options, parseOptions } from './options'
export { readmeBlock } from './output'

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2))
  // The runner itself stays off the server core.
  if (TASKSET) spawnSync(TASKSET, ['-cp', LOAD_CPU, String(process.pid)], { stdio: 'ignore' })
  const only = (name: string) => o.only === undefined || o.only.test(name)

  let main = mainMeasurements().filter((m) => only(m.id))
  let scaling = scalingMeasurements().filter((m) => only(m.id))
  let stampedeApps = only('stampede') ? STAMPEDE_APPS : []
  let doInvalidation = only('invalidation')
  let doMemory = only('memory')
  if (o.quick) {
    const quick = ['express/l1-hit/2k', 'express/l2-hit/2k', 'koa/l1-hit/2k', 'fastify/l1-hit/2k']
    main = main.filter((m) => quick.includes(m.id))
    scaling = []
    stampedeApps = stampedeApps.filter((s) => s.app === 'express-cachet')
    doInvalidation &&= true
    doMemory &&= true
  }

  const needsRedis =
    main.some((m) => APPS[m.app]?.redis) ||
    stampedeApps.some((s) => APPS[s.app]?.redis) ||
    (doInvalidation && !o.quick)
  const perMeasurement = o.warmup + o.duration + 0.6
  const estimate =
    (main.length + scaling.length) * o.rounds * perMeasurement +
    (doInvalidation && !o.quick ? 2 * (2 * o.rounds + 1) * perMeasurement + 20 + o.rounds * 2 : 0) +
    (doMemory ? 15 : 0) +
    stampedeApps.length * o.rounds * 0.5 +
    30 +
    (o.profileMisses ? 40 : 0)
  log(
    `cachet bench: ${main.length + scaling.length} measurements × ${o.rounds} rounds, -c ${o.connections}, warm-up ${o.warmup} s + ${o.duration} s each; estimated ${Math.ceil(estimate / 60)} min`,
  )

  const builds = buildStamps()
  const redis = needsRedis ? await startRedis(TASKSET ? SERVER_CPU : undefined) : undefined
  redisPid = redis?.pid
  const apps = new Apps(redis)
  const data: BenchData = {
    options: o,
    argv: process.argv.slice(2),
    startedAt: new Date(),
    seconds: 0,
    machine: machine(redis),
    measurements: [...main, ...scaling],
    samples: new Map(),
    problems: new Map(),
    stampede: [],
    invalidation: [],
    flood: undefined,
    profiles: [],
    skippedProfiles: [],
    retakes: 0,
    warnings: [],
    appCommands: apps.commands,
    loadExample: undefined,
  }
  const cleanup = async () => {
    await apps.stop()
    await redis?.stop()
  }
  try {
    // The main matrix and the stampede share their apps.
    const mainApps = [...new Set([...main.map((m) => m.app), ...stampedeApps.map((s) => s.app)])]
    log(`[${elapsed()}] starting ${mainApps.length} apps`)
    await apps.start(mainApps)
    if (main.length > 0) await runRounds(main, apps, o, data)

    for (let round = 0; round < o.rounds && stampedeApps.length > 0; round++) {
      for (const s of stampedeApps) {
        const r = await stampede(apps.get(s.app), round)
        data.stampede.push(r)
        log(
          `[${elapsed()}] stampede ${s.app}: ${r.calls} origin calls for ${STAMPEDE_REQUESTS} concurrent cold requests (${SLOW_ORIGIN_MS} ms origin), ${r.ok} × 200 in ${r.ms.toFixed(0)} ms`,
        )
      }
    }
    await apps.stop(mainApps)

    if (scaling.length > 0) {
      const names = [...new Set(scaling.map((m) => m.app))]
      await apps.start(names)
      await runRounds(scaling, apps, o, data)
      await apps.stop(names)
    }

    if (doInvalidation) {
      const backends: ('memory' | 'redis')[] = o.quick ? ['memory'] : ['memory', 'redis']
      for (const backend of backends) {
        const name = `express-inval-${backend}`
        await apps.start([name])
        data.invalidation.push(await invalidation(backend, apps.get(name), o, data))
        await apps.stop([name])
      }
    }

    if (doMemory) {
      await apps.start(['express-flood'])
      data.flood = await flood(apps.get('express-flood'), o)
      await apps.stop(['express-flood'])
    }

    await runProfiles(data, apps, o)
  } finally {
    await cleanup()
  }

  data.seconds = (performance.now() - started) / 1000
  const rebuilt = changedBuilds(builds)
  if (rebuilt.length > 0) {
    data.warnings.push(
      `the code under test was rebuilt during the run (${rebuilt.join(', ')}): processes started before and after ran different builds`,
    )
  }
  data.machine.loadAfter = os.loadavg()
  const md = report(data)
  process.stdout.write(`${md}\n`)
  writeResults(md, data, o)
}

/** The bench's own redis-server, killed by its pid if the bench is interrupted. */
let redisPid: number | undefined

function killRedis(): void {
  if (redisPid === undefined) return
  try {
    process.kill(redisPid, 'SIGKILL')
  } catch {}
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    killRedis()
    process.exit(130)
  })
}
process.on('exit', killAll)

main().catch((err: Error) => {
  log(`bench failed: ${err.stack ?? err.message}`)
  killAll()
  killRedis()
  process.exit(1)
})
