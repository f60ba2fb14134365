import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { cachePlugin, createCache } from '@cachet/fastify'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import {
  attachCachet,
  boundResponse,
  cachetOptions,
  originBody,
  readConfig,
  serve,
  slow,
} from './harness'

// Fastify 5: the floor (no cache), the bound (an `onRequest` hook writing the
// precomputed response, as any hook-based cache at its cheapest would), and
// cachet (memory, Redis, or both; hits in the plugin's `onRequest` hook, or at
// the edge through `serverFactory`). The harness serves Fastify's own request
// listener, so every app of the bench is measured behind the same server.

type Listener = (req: IncomingMessage, res: ServerResponse) => void

async function main(): Promise<void> {
  const cfg = readConfig()
  let routes: Listener | undefined
  const app = Fastify({
    serverFactory: (handler) => {
      routes = handler
      // Never listened on: the harness's server calls `routes`.
      return http.createServer()
    },
  })
  let close = async () => {}
  let wrap = (l: Listener): Listener => l

  if (cfg.cache === 'cachet') {
    const cache = createCache(cachetOptions(cfg))
    await cache.ready
    attachCachet(cache.engine, (target) => cache.invalidate(target))
    await app.register(cachePlugin, { cache })
    if (cfg.edge) wrap = (l) => cache.edge(l)
    close = () => cache.close()
  } else if (cfg.cache === 'bound') {
    app.addHook('onRequest', (request, reply, done) => {
      if (boundResponse(request.raw, reply.raw)) reply.hijack()
      done()
    })
  } else if (cfg.cache !== 'none') {
    throw new Error(`fastify: unknown cache ${cfg.cache}`)
  }

  const send =
    (route: string) =>
    async (
      request: FastifyRequest<{ Params: { size?: string; id?: string } }>,
      reply: FastifyReply,
    ) => {
      const body = originBody(route, String(request.params.size ?? request.params.id ?? ''))
      if (body === undefined) return reply.code(404).send()
      return reply.type('application/json').send(body)
    }

  app.get('/data/:size', send('data'))
  app.get('/miss/:size', send('miss'))
  app.get('/other/:size', send('other'))
  app.get('/items/:id', send('items'))
  app.get('/tagged/:id', send('tagged'))
  app.get('/small/:id', send('small'))
  app.get('/flood/:id', send('flood'))
  app.get<{ Params: { id: string } }>('/slow/:id', async (request, reply) =>
    reply.type('application/json').send(await slow(request.params.id)),
  )

  await app.ready()
  if (routes === undefined) throw new Error('fastify: serverFactory was not called')
  const closeAll = async () => {
    await app.close()
    await close()
  }
  await serve(wrap(routes), closeAll)
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})
