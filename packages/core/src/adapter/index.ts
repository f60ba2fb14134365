/**
 * `@cachet/core/adapter`: what a framework adapter is built from. The request
 * flow (`handleRequest`) runs in core; an adapter implements a `RequestPort`
 * (a view of the request and the few things only the framework can do) and
 * captures its framework's response into the `Fill` it is given.
 */

export type { WriteResponse } from '../engine/engine'
export { CacheEngine } from '../engine/engine'
export { withQuery } from '../engine/exchange'
export type { Fill } from '../engine/fill'
export { isInternalRequest, serverListener } from '../engine/internal-request'
export type { Replay } from '../engine/replay'
export { fillOutcome } from '../engine/status-headers'
export type { ResponseBypassReason } from '../http/storable'
export type { ResponseHeaders } from './capture'
export { announce, captureWhole, decideAtHeaders, nodeHeaders, replacementFor } from './capture'
export { handleRequest } from './flow'
export type { CacheHandle, RequestCache } from './handle'
export { withHandle } from './handle'
export { splitAdapterOptions, userIdOf } from './options'
export type { HeldWrite, MissView, RequestPort } from './port'
export { conditionalsOf, refreshInBackground, routeConditionals } from './route-view'
