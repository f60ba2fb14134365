export type {
  ExpressCacheMiddleware,
  ExpressCacheOptions,
  Identify,
  RequestCache,
} from './middleware'
export { cacheMiddleware, defaultIdentify } from './middleware'
