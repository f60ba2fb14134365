// Placeholders for the docs' code blocks (see test/docs/code-blocks.test.ts).
//
// A block may use these names without declaring them: they stand for "your own
// code" around a snippet. The test imports the ones a block does not declare
// itself from 'cachet-docs/koa' when the block imports koa, @koa/* or
// @cachet/koa, else from 'cachet-docs/express'. They are modules, not globals,
// so nothing here leaks into the other tests. Keep this list short: a snippet
// that needs more context should declare it.

declare module 'cachet-docs/common' {
  /** Your cache rules. */
  export const rules: import('@cachet/core').CacheRule[]
  /** Your store options (memory tier, shared tier). */
  export const store: import('@cachet/core').CacheOptions['store']
  /** Your Redis URL. */
  export const url: string
  /** A shared tier of your own, checked by the contract tests. */
  export function myTier(): import('@cachet/core').RemoteTier
  /** Secrets from your environment. */
  export const DEPLOY_TOKEN: string
  export const ONCALL_TOKEN: string
}

declare module 'cachet-docs/express' {
  export * from 'cachet-docs/common'
  export const app: import('express').Express
  export const cache: import('@cachet/express').ExpressCacheMiddleware
  /** Your authentication middleware: it sets `req.user`. */
  export const authenticate: import('express').RequestHandler
  export const router: import('express').Router
}

declare module 'cachet-docs/koa' {
  export * from 'cachet-docs/common'
  export const app: import('koa')
  export const cache: import('@cachet/koa').KoaCacheMiddleware
  /** Your authentication middleware: it sets `ctx.state.user`. */
  export const authenticate: import('koa').Middleware
  export const router: import('@koa/router').default
}
