import { Carts } from './carts'
import { Catalog } from './catalog'
import { type ShopConfig, slowDelayMs } from './config'
import {
  isJsonObject,
  json,
  jsonError,
  type OriginRequest,
  type OriginResponse,
  originFailing,
} from './exchange'
import {
  addToCart,
  getAsset,
  getCart,
  getPrivate,
  getProduct,
  getReflect,
  getSession,
  getStatus,
  getStream,
  listProducts,
  type OriginHandler,
  type ShopData,
  updateProduct,
} from './handlers'
import { createOriginState, delay, type OriginState, type RouteKey } from './origin-state'

// The route table both apps register, in this order, with their own router. Each
// entry is framework-free: the app decodes the request into an `OriginRequest`
// and writes the `OriginResponse` back.

export type RouteMethod = 'GET' | 'POST' | 'PUT'

export interface OriginRoute {
  method: RouteMethod
  path: string
  // `METHOD /pattern`, the name under which `/__origin/calls` counts the route.
  key: RouteKey
  handle(req: OriginRequest): Promise<OriginResponse>
}

// One app's origin: its own data, counters and routes.
export interface Origin extends ShopData {
  state: OriginState
  routes: readonly OriginRoute[]
}

type RouteSpec = readonly [RouteMethod, string, OriginHandler]

const CONTRACT_ROUTES: readonly RouteSpec[] = [
  ['GET', '/products', listProducts],
  ['GET', '/products/:id', getProduct],
  ['PUT', '/products/:id', updateProduct],
  ['GET', '/me/cart', getCart],
  ['POST', '/me/cart', addToCart],
  ['GET', '/assets/:name', getAsset],
  ['GET', '/stream/:chunks', getStream],
  ['GET', '/status/:code', getStatus],
  ['GET', '/slow/:id', getProduct],
  ['GET', '/private/:id', getPrivate],
  ['GET', '/session', getSession],
  // Beyond CONTRACT.md (an addition): the attack corpus's reflecting route.
  ['GET', '/reflect/:id', getReflect],
]

export function createOrigin(config: ShopConfig): Origin {
  const state = createOriginState()
  const data: ShopData = { catalog: new Catalog(), carts: new Carts() }
  const contract = CONTRACT_ROUTES.map(([method, path, handler]): OriginRoute => {
    const key = `${method} ${path}`
    const wait = path === '/slow/:id' ? slowDelayMs(config) : config.originDelayMs
    return {
      method,
      path,
      key,
      // The order is part of the contract: a request counts even if it then
      // waits or fails, and the failing switch is read after the delay, so a
      // switch flipped while a request waits applies to it.
      async handle(req) {
        state.count(key)
        await delay(wait)
        if (state.failing) return originFailing()
        return handler(data, req)
      },
    }
  })
  return { ...data, state, routes: [...contract, ...controlRoutes(state)] }
}

// `/__origin/*`: the test hooks. Not counted, never delayed, never failing.
function controlRoutes(state: OriginState): OriginRoute[] {
  const route = (
    method: RouteMethod,
    path: string,
    answer: (req: OriginRequest) => OriginResponse,
  ) => ({
    method,
    path,
    key: `${method} ${path}`,
    handle: async (req: OriginRequest) => answer(req),
  })
  return [
    route('GET', '/__origin/calls', () => json(200, state.calls())),
    route('POST', '/__origin/reset', () => {
      state.reset()
      return { kind: 'empty', status: 204 }
    }),
    route('GET', '/__origin/fail', () => json(200, { failing: state.failing })),
    route('POST', '/__origin/fail', (req) => {
      if (req.bodyError !== undefined) return jsonError(req.bodyError.status, req.bodyError.message)
      const failing = isJsonObject(req.body) ? req.body.failing : undefined
      if (typeof failing !== 'boolean')
        return jsonError(400, 'expected a JSON body { "failing": boolean }')
      state.setFailing(failing)
      return json(200, { failing })
    }),
  ]
}
