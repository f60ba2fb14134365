import { APPS } from './matrix'
import { type AppProcess, startApp } from './procs'
import type { BenchRedis } from './redis'

// The app processes of a phase: started one at a time, each with its own Redis keyspace.

export class Apps {
  readonly #running = new Map<string, AppProcess>()
  readonly commands = new Map<string, string>()
  constructor(readonly redis: BenchRedis | undefined) {}

  configFor(name: string) {
    const base = APPS[name]
    if (base === undefined) throw new Error(`unknown app ${name}`)
    if (!base.redis) return base
    if (this.redis === undefined) throw new Error(`${name} needs Redis`)
    // A prefix per process start: every app meets a keyspace of its own.
    const prefix = `bench-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    return { ...base, redisUrl: this.redis.url, prefix }
  }

  async start(names: string[]): Promise<void> {
    const todo = names.filter((n) => !this.#running.has(n))
    // One at a time: they share one core, and a start-up is short.
    for (const name of todo) {
      const app = await startApp(name, this.configFor(name))
      this.#running.set(name, app)
      this.commands.set(name, app.command)
    }
  }

  get(name: string): AppProcess {
    const app = this.#running.get(name)
    if (app === undefined) throw new Error(`app ${name} is not running`)
    return app
  }

  async stop(names: string[] = [...this.#running.keys()]): Promise<void> {
    for (const name of names) {
      const app = this.#running.get(name)
      this.#running.delete(name)
      await app?.stop()
    }
  }
}
