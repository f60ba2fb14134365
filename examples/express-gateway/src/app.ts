import type { CacheRule } from '@cachet/core'
import { cacheMiddleware, type ExpressCacheMiddleware } from '@cachet/express'
import { cacheStoreOptions, closeOnce, resolveConfig, type ShopConfig } from '@cachet/shop-common'
import express, { type Express } from 'express'
import { forwarder } from './forward'

// A gateway: every request goes to the upstream at ORIGIN_URL, and one
// origin-driven rule makes it a shared HTTP cache in front of it
// (docs/origin-mode.md): the upstream's Cache-Control, Expires and Age decide
// what is stored and for how long; a 2xx POST, PUT, PATCH or DELETE
// invalidates its path first; every hardening of the cache applies.

export interface GatewayConfig extends ShopConfig {
  /** The upstream every request is forwarded to: `http://host:port[/base]`. */
  originUrl: string
  /** How long the upstream may stay silent (ms). Default 30 s. */
  upstreamTimeoutMs?: number
  /**
   * Request headers forwarded to the upstream on a miss although the rule
   * does not key them (the rule's `passHeaders`): the upstream must name each
   * one in `Vary` when its answer depends on it. Default none.
   */
  passHeaders?: string[]
}

/** The one rule: every path, freshness from the upstream, at most a day. */
export const gatewayRules: CacheRule[] = [
  {
    name: 'gateway',
    path: '/{*rest}',
    ttl: 'origin',
    maxTtl: '1d',
    // Any status with explicit freshness, or heuristically cacheable with a heuristic one (RFC 9111 §3).
    statuses: 'any',
  },
]

export interface Gateway {
  app: Express
  handler: Express
  cache: ExpressCacheMiddleware
  close(): Promise<void>
}

/** Builds the gateway; it listens only when run as `main.ts`. */
export function createGateway(
  partial: Partial<GatewayConfig> & Pick<GatewayConfig, 'originUrl'>,
): Gateway {
  let origin: URL
  try {
    origin = new URL(partial.originUrl)
  } catch {
    throw new Error(`ORIGIN_URL: expected an http:// or https:// URL, got "${partial.originUrl}"`)
  }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') {
    throw new Error(`ORIGIN_URL: expected an http:// or https:// URL, got "${partial.originUrl}"`)
  }
  const config = resolveConfig(partial)
  const rules =
    partial.passHeaders === undefined
      ? gatewayRules
      : gatewayRules.map((r) => ({ ...r, passHeaders: partial.passHeaders }))
  const cache = cacheMiddleware({ rules, store: cacheStoreOptions(config) })
  const app = express()
  app.disable('x-powered-by')
  app.use(cache)
  app.use(forwarder(origin, { timeoutMs: partial.upstreamTimeoutMs }))
  return { app, handler: app, cache, close: closeOnce(cache) }
}
