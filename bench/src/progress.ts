import { performance } from 'node:perf_hooks'

// The runner's progress log (on stderr) and its clock.

export const log = (text: string) => process.stderr.write(`${text}\n`)
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
export const pct = (x: number) => `${(x * 100).toFixed(0)}%`

/** Where the bench is in its time budget. */
export const started = performance.now()
export const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`
