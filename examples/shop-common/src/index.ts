// @cachet/shop-common: everything the Express and Koa example shops share, so
// that each app is a thin translation and both serve CONTRACT.md identically.

export type { ShopUser } from './auth'
export { userFromAuthorization } from './auth'
export {
  blobBytes,
  CHUNK_BYTES,
  MAX_BLOB_BYTES,
  MAX_STREAM_CHUNKS,
  parseBlobName,
  parseChunkCount,
  streamChunk,
  streamChunks,
} from './blob'
export type { Cart } from './carts'
export { Carts, MAX_CART_ITEMS, MAX_SKU_LENGTH, parseSku } from './carts'
export type { Product } from './catalog'
export {
  CATEGORY_COUNT,
  Catalog,
  localize,
  PAGE_SIZE,
  PRODUCT_COUNT,
  parseProductId,
} from './catalog'
export type { ShopConfig, ShopEnv } from './config'
export {
  DEFAULT_HOST,
  DEFAULT_L1_MAX_BYTES,
  DEFAULT_PORT,
  DEFAULT_SLOW_DELAY_MS,
  readConfig,
  resolveConfig,
  slowDelayMs,
} from './config'
export type { BodyError, OriginRequest, OriginResponse } from './exchange'
export { bodyErrorFrom, internalError, JSON_BODY_LIMIT, notFound, queryValue } from './exchange'
export type { OriginHandler, ShopData } from './handlers'
export { metricsRoute } from './metrics'
export type { OriginCalls, RouteKey } from './origin-state'
export { createOriginState, delay, OriginState } from './origin-state'
export type { Origin, OriginRoute, RouteMethod } from './routes'
export { createOrigin } from './routes'
export { rulesFor, shopRules } from './rules'
export { runShop, serveShop } from './serve'
export type { Shop, ShopCache, ShopInvalidationTarget } from './shop'
export { cacheStoreOptions, closeOnce, shopCacheOptions } from './shop'
