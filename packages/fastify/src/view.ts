import { parse as parseQueryString } from 'node:querystring'
import { splitUrl, withQuery } from '@cachet/core/adapter'
import type { FastifyRequest, HTTPMethods, RouteOptions } from 'fastify'

type RawRequest = FastifyRequest['raw'] & { originalUrl?: string }

/**
 * Gives the route of a miss only the keyed query parameters (core chose
 * them): in the raw URL the route reads (`request.url`, and the URL before
 * `rewriteUrl`), and in `request.query`, which Fastify parsed while routing.
 * The new query is parsed by the app's own query string parser: Fastify's
 * router hands it back for the route's path (`findRoute`); node's
 * `querystring`, Fastify's default, when the route is not found that way
 * (a route with constraints).
 */
export function narrowQuery(request: FastifyRequest, query: string): void {
  const raw = request.raw as RawRequest
  raw.url = withQuery(raw.url ?? '/', query)
  if (raw.originalUrl !== undefined) raw.originalUrl = withQuery(raw.originalUrl, query)
  const { path } = splitUrl(raw.url)
  const found = request.server.findRoute({
    method: (raw.method ?? 'GET') as HTTPMethods,
    url: query === '' ? path : `${path}?${query}`,
  })
  const parsed = found === null ? undefined : (found as { searchParams?: unknown }).searchParams
  request.query = parsed ?? (query === '' ? {} : parseQueryString(query))
}

type Handler = RouteOptions['handler']

function methodsOf(route: RouteOptions): readonly string[] {
  return Array.isArray(route.method) ? route.method : [route.method]
}

/**
 * Which HEAD routes run the handler of a GET route (Fastify's own, for
 * `exposeHeadRoutes`), told apart from HEAD routes with a handler of their
 * own, whose answer is not the GET representation. Learnt from `onRoute`, so
 * only of the routes added after the cache plugin; a HEAD route it has not
 * seen counts as one of its own (its misses are not stored).
 */
export class HeadRoutes {
  readonly #getHandlers = new WeakSet<Handler>()
  /** Route URLs whose HEAD route runs their GET handler. */
  readonly #runningGet = new Set<string>()
  /** Route URLs with a HEAD route of their own. */
  readonly #own = new Set<string>()

  /** For an `onRoute` hook. */
  add(route: RouteOptions): void {
    const methods = methodsOf(route)
    if (methods.includes('GET')) {
      this.#getHandlers.add(route.handler)
      return
    }
    if (!methods.includes('HEAD')) return
    if (this.#getHandlers.has(route.handler)) this.#runningGet.add(route.url)
    else this.#own.add(route.url)
  }

  /**
   * Whether `request` (a HEAD) runs the route of a GET: Fastify's HEAD route
   * for a GET route, a route of both methods, or the not-found handler.
   */
  runsGet(request: FastifyRequest): boolean {
    if (request.is404) return true
    const { method, url } = request.routeOptions
    if (Array.isArray(method) && method.includes('GET')) return true
    return url !== undefined && this.#runningGet.has(url) && !this.#own.has(url)
  }
}
