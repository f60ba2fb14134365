import { randomBytes } from 'node:crypto'
import { blobBytes, parseBlobName, parseChunkCount, streamChunks } from './blob'
import { type Carts, parseSku } from './carts'
import { type Catalog, localize, parseProductId } from './catalog'
import {
  isJsonObject,
  json,
  jsonError,
  notFound,
  type OriginRequest,
  type OriginResponse,
  pathParam,
  queryValue,
  unauthorized,
} from './exchange'

// What each contract route answers (CONTRACT.md, "Routes"), given the decoded
// request. No counting, delays or failing switch here: `routes.ts` wraps every
// handler in those, so no route can forget them.

export interface ShopData {
  catalog: Catalog
  carts: Carts
}

export type OriginHandler = (data: ShopData, req: OriginRequest) => OriginResponse

// GET /products/:id and GET /slow/:id. Only `lang` is read from the query: the
// cache rule keys on `lang` alone, so any other parameter must not change the answer.
export const getProduct: OriginHandler = ({ catalog }, req) => {
  const id = parseProductId(pathParam(req, 'id'))
  const product = id === undefined ? undefined : catalog.get(id)
  if (product === undefined) return notFound()
  return json(200, localize(product, queryValue(req.query, 'lang')))
}

// GET /products. A `page` that is not a positive integer reads as page 1, the
// way a missing one does; an unknown category is an empty page, not a 404.
export const listProducts: OriginHandler = ({ catalog }, req) => {
  const rawPage = queryValue(req.query, 'page')
  const page = rawPage !== undefined && /^[1-9]\d{0,8}$/.test(rawPage) ? Number(rawPage) : 1
  const items = catalog.list(queryValue(req.query, 'category'), page)
  return json(200, { items, page })
}

// PUT /products/:id with `{ "price": number }` (a finite number, not negative).
export const updateProduct: OriginHandler = ({ catalog }, req) => {
  const id = parseProductId(pathParam(req, 'id'))
  if (id === undefined || catalog.get(id) === undefined) return notFound()
  if (req.bodyError !== undefined) return jsonError(req.bodyError.status, req.bodyError.message)
  const price = isJsonObject(req.body) ? req.body.price : undefined
  if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) {
    return jsonError(400, 'expected a JSON body { "price": number }')
  }
  return json(200, catalog.update(id, price))
}

// GET /me/cart: the demo user's own cart, 401 without a valid token.
export const getCart: OriginHandler = ({ carts }, req) => {
  if (req.user === undefined) return unauthorized()
  return json(200, carts.get(req.user))
}

// POST /me/cart with `{ "sku": string }`: 201 with the updated cart.
export const addToCart: OriginHandler = ({ carts }, req) => {
  if (req.user === undefined) return unauthorized()
  if (req.bodyError !== undefined) return jsonError(req.bodyError.status, req.bodyError.message)
  const sku = parseSku(req.body)
  if (sku === undefined) return jsonError(400, 'expected a JSON body { "sku": string }')
  const cart = carts.add(req.user, sku)
  if (cart === undefined) return jsonError(400, 'cart is full')
  return json(201, cart)
}

// GET /assets/:name: `blob-<bytes>.bin`, deterministic bytes of that size.
export const getAsset: OriginHandler = (_data, req) => {
  const size = parseBlobName(pathParam(req, 'name'))
  if (size === undefined) return notFound()
  return {
    kind: 'bytes',
    status: 200,
    body: blobBytes(size),
    contentType: 'application/octet-stream',
  }
}

// GET /stream/:chunks: the apps write the chunks one by one, as a real stream.
export const getStream: OriginHandler = (_data, req) => {
  const count = parseChunkCount(pathParam(req, 'chunks'))
  if (count === undefined) return notFound()
  return {
    kind: 'stream',
    status: 200,
    chunks: () => streamChunks(count),
    contentType: 'text/plain; charset=utf-8',
  }
}

// GET /status/:code: any status from 200 to 599, with its number as the body.
export const getStatus: OriginHandler = (_data, req) => {
  const raw = pathParam(req, 'code')
  const code = raw !== undefined && /^[2-5]\d\d$/.test(raw) ? Number(raw) : undefined
  if (code === undefined) return notFound()
  return json(code, { status: code })
}

// GET /private/:id: personal data that says so; the cache must never store it.
export const getPrivate: OriginHandler = (_data, req) => {
  return json(
    200,
    { id: pathParam(req, 'id') ?? '', private: true },
    { 'Cache-Control': 'private' },
  )
}

// GET /reflect/:id: everything the route was given, as a careless route would
// use it: the request's headers and query in the body, and a self link built
// from the forwarding headers. The attack corpus (test/attacks) proves that no
// request can make the cache store what only that request sent.
export const getReflect: OriginHandler = (_data, req) => {
  const headers = req.headers ?? {}
  const first = (name: string) => {
    const v = headers[name]
    return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] as string | undefined) : undefined
  }
  const proto = first('x-forwarded-proto') ?? 'http'
  const host = first('x-forwarded-host') ?? first('host') ?? ''
  const id = pathParam(req, 'id') ?? ''
  const lang = queryValue(req.query, 'lang')
  return json(
    200,
    { id, url: req.url ?? '', query: req.query, headers, link: `${proto}://${host}/reflect/${id}` },
    // The (keyed) language in response headers too, unchecked: a long one makes a long header block.
    lang === undefined || !/^[\x20-\x7e]*$/.test(lang)
      ? undefined
      : { 'Content-Language': lang, Link: `</reflect/${id}?lang=${lang}>; rel="canonical"` },
  )
}

// GET /session: a fresh session cookie on every call; the cache must never store
// it, or every client would share one session.
export const getSession: OriginHandler = () => {
  const sid = randomBytes(16).toString('hex')
  return json(200, { session: 'new' }, { 'Set-Cookie': `sid=${sid}; Path=/; HttpOnly` })
}
