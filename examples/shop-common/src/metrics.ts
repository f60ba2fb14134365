import type { CacheEngine } from '@cachet/core/adapter'
import { prometheusMetrics } from '@cachet/core/prometheus'
import type { OriginRoute } from './routes'

// `GET /metrics` of CONTRACT.md: the cache's counters in the Prometheus text
// exposition format, read from the cache's engine at each scrape. Both apps
// register this route like the others, so both answer it alike. It is not a
// contract route of the origin: never counted in `/__origin/calls`, never
// delayed or failing, and no cache rule matches its path, so it is never cached.
export function metricsRoute(cache: { readonly engine: CacheEngine }): OriginRoute {
  const registry = prometheusMetrics(cache)
  return {
    method: 'GET',
    path: '/metrics',
    key: 'GET /metrics',
    async handle() {
      return {
        kind: 'bytes',
        status: 200,
        body: Buffer.from(await registry.metrics()),
        contentType: registry.contentType,
      }
    },
  }
}
