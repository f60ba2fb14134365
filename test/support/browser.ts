import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { type Browser, chromium } from 'playwright-core'
import { oneLineError } from './redis/redis-server'

// Debian's chromium for the browser tests, driven by playwright-core (which
// downloads no browser). Installed with apt-get when missing and running as
// root, as the Redis helper does for redis-server; otherwise one line says how.

export const CHROMIUM = '/usr/bin/chromium'

const INSTALL_HINT = `${CHROMIUM} not found: install Debian's chromium with "sudo apt-get install chromium"`

function runApt(args: string[]): void {
  const result = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  if (result.status !== 0) {
    const lines = (result.stderr || result.stdout || '').trim().split('\n')
    const why = result.error?.message ?? lines[lines.length - 1]?.trim() ?? ''
    throw oneLineError(
      `chromium install failed: "apt-get ${args.join(' ')}" exited ${result.status ?? result.signal}: ${why}`,
    )
  }
}

function installed(): boolean {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** `/usr/bin/chromium`; installs the Debian package when missing and root, else throws one line. */
export function ensureChromium(): string {
  if (installed()) return CHROMIUM
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
  if (process.getuid?.() !== 0 || !hasApt) throw oneLineError(INSTALL_HINT)
  process.stderr.write('cachet tests: chromium is missing; installing it with apt-get\n')
  runApt(['update'])
  runApt(['install', '-y', '--no-install-recommends', 'chromium'])
  if (!installed()) throw oneLineError(INSTALL_HINT)
  return CHROMIUM
}

/**
 * A headless chromium, loopback only in practice: no background networking,
 * updates or sync. Each launch gets a fresh temporary profile (Playwright
 * creates one per `launch()` and deletes it on `close()`).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: ensureChromium(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 20_000,
  })
}
