import type { LoadResult } from './load'
import type { Measurement } from './matrix'
import type { Options } from './options'
import type { ProfileSummary } from './profile'

// The figures of one run, as the runner collects them and the report reads them.

export interface Sample extends LoadResult {
  /** Origin calls of the measured route during warm-up and run. */
  originCalls: number
  /** How many times this sample was taken again because other processes were busy. */
  retakes: number
}

export interface StampedeResult {
  app: string
  calls: number
  ok: number
  ms: number
  outcomes: Record<string, number>
}

export interface InvalidationResult {
  backend: 'memory' | 'redis'
  large: number
  small: number
  fillMs: number[]
  firstSmallMs: number[]
  firstLargeMs: number[]
  verified: string[]
  repeats: number
  repeatedSmall: number | undefined
  repeatedLarge: number | undefined
  warmupMs: number | undefined
  baseline: LoadResult[]
  during: LoadResult[]
  loops: { count: number; medianMs: number; p99Ms: number; maxMs: number }[]
}

export interface FloodSample {
  urls: number
  rss: number
  heapUsed: number
  arrayBuffers: number
  l1Bytes: number
  l1Entries: number
  evictions: number
  maxBytes: number
  maxL1BytesSeen: number
  originCalls: number
}

export interface BenchData {
  options: Options
  argv: string[]
  startedAt: Date
  seconds: number
  machine: {
    cpu: string
    cores: number
    memoryGiB: number
    kernel: string
    node: string
    commit: string
    loadBefore: number[]
    loadAfter: number[]
    pinning: string
    versions: Record<string, string>
  }
  measurements: Measurement[]
  samples: Map<string, Sample[]>
  problems: Map<string, string | undefined>
  stampede: StampedeResult[]
  invalidation: InvalidationResult[]
  flood: FloodSample[] | undefined
  profiles: { id: string; label: string; summary: ProfileSummary; command: string }[]
  /** Profiles not taken for want of time. */
  skippedProfiles: string[]
  /** Samples taken again because other processes took more than 15% of a core. */
  retakes: number
  /** Things that make the figures doubtful, printed at the top. */
  warnings: string[]
  appCommands: Map<string, string>
  loadExample: string | undefined
}
