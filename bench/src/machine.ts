import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BenchData } from './data'
import { BENCH_DIR, ROOT } from './options'
import { LOAD_CPU, SERVER_CPU, TASKSET } from './procs'
import type { BenchRedis } from './redis'

// What a run measured: the machine, the commit, the versions, and whether the
// code under test was rebuilt while the bench ran.

function versionOf(name: string): string {
  for (const base of [path.join(BENCH_DIR, 'node_modules'), path.join(ROOT, 'node_modules')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(base, name, 'package.json'), 'utf8'))
      return String(pkg.version)
    } catch {}
  }
  return '?'
}

export function machine(redis: BenchRedis | undefined): BenchData['machine'] {
  const cpus = os.cpus()
  let commit = '?'
  try {
    commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout.trim()
    const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout
    if (dirty.trim()) {
      // The working tree is what is measured: say which files differ from the commit.
      const files = dirty
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => l.slice(3).trim())
      commit += ` with uncommitted changes in ${files.filter((f) => !f.startsWith('bench/')).join(', ') || 'bench/ only'}`
    }
  } catch {}
  return {
    cpu: cpus[0]?.model ?? '?',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit,
    loadBefore: os.loadavg(),
    loadAfter: [],
    pinning: TASKSET
      ? `servers and redis-server: taskset -c ${SERVER_CPU}; load generator: taskset -c ${LOAD_CPU}`
      : 'taskset not found: nothing pinned',
    versions: {
      express: versionOf('express'),
      koa: versionOf('koa'),
      fastify: versionOf('fastify'),
      apicache: versionOf('apicache'),
      'koa-cash': versionOf('koa-cash'),
      autocannon: versionOf('autocannon'),
      ioredis: versionOf('ioredis'),
      'redis (node-redis, for apicache)': versionOf('redis'),
      'redis-server': redis?.version ?? 'not started',
    },
  }
}

/** The compiled packages under test, and when each was last written. */
export function buildStamps(): Map<string, number> {
  const stamps = new Map<string, number>()
  for (const pkg of [
    'packages/core',
    'packages/express',
    'packages/koa',
    'packages/fastify',
    'bench',
  ]) {
    const dir = path.join(ROOT, pkg, 'dist')
    let newest = 0
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const f = path.join(d, e.name)
        if (e.isDirectory()) walk(f)
        else if (e.name.endsWith('.js')) newest = Math.max(newest, fs.statSync(f).mtimeMs)
      }
    }
    try {
      walk(dir)
    } catch {}
    stamps.set(pkg, newest)
  }
  return stamps
}

export function changedBuilds(before: Map<string, number>): string[] {
  const now = buildStamps()
  return [...before].filter(([pkg, t]) => now.get(pkg) !== t).map(([pkg]) => `${pkg}/dist`)
}
