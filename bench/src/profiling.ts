import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Apps } from './app-pool'
import type { BenchData } from './data'
import type { Measurement } from './matrix'
import type { Options } from './options'
import { probe } from './probe'
import { control, runLoad, startApp } from './procs'
import { type ProfileSummary, summarizeProfile } from './profile'
import { elapsed, log, started } from './progress'
import { specFor } from './rounds'
import { evaluateTargets } from './targets'

// Profiles (node --cpu-prof) of the cachet side of missed targets, and of --profile.

/** Profiles start only before this point of the run (a profile takes ~10 s). */
const PROFILE_DEADLINE_MS = 13.5 * 60_000

async function profile(
  m: Measurement,
  apps: Apps,
  o: Options,
): Promise<{ summary: ProfileSummary; command: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cachet-bench-prof-'))
  try {
    const app = await startApp(`${m.app} (profiled)`, apps.configFor(m.app), [
      '--cpu-prof',
      '--cpu-prof-dir',
      dir,
    ])
    try {
      if (m.prefill)
        await control(app, `/prefill?route=${m.prefill.route}&count=${m.prefill.count}`)
      await probe(m, app)
      await runLoad({ ...specFor(m, o, 0), origin: app.origin })
    } finally {
      await app.stop()
    }
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`${m.id}: no .cpuprofile written`)
    return { summary: summarizeProfile(path.join(dir, file)), command: app.command }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Profiles: the cachet side of every missed target (at most 4), and --profile. */
export async function runProfiles(data: BenchData, apps: Apps, o: Options): Promise<void> {
  const targets = evaluateTargets(data)
  const subjects = new Set<string>()
  if (o.profileMisses)
    for (const t of targets) if (!t.met && t.subject && subjects.size < 6) subjects.add(t.subject)
  if (o.profile) for (const m of data.measurements) if (o.profile.test(m.id)) subjects.add(m.id)
  for (const id of subjects) {
    const m = data.measurements.find((x) => x.id === id)
    if (!m) continue
    // The whole run stays under 15 minutes: profiles are the first thing to go.
    if (o.profile === undefined && performance.now() - started > PROFILE_DEADLINE_MS) {
      log(`[${elapsed()}] no time left for the profile of ${id}`)
      data.skippedProfiles.push(id)
      continue
    }
    log(`[${elapsed()}] profiling ${id} (node --cpu-prof, ${o.warmup} s + ${o.duration} s)`)
    try {
      const p = await profile(m, apps, o)
      data.profiles.push({ id, label: m.label, ...p })
    } catch (err) {
      log(`  ! profile ${id}: ${(err as Error).message}`)
    }
  }
}
