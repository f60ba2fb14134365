// Demo authentication of CONTRACT.md: `Authorization: Bearer <userId>`, where the
// token is the user id itself. Good enough to exercise per-user cache rules;
// never a model for real authentication.

const BEARER = /^Bearer +([a-zA-Z0-9_-]{1,64})$/i

// The user id of a valid demo token, else undefined. Never throws: a bad header
// only means "anonymous", and the route decides whether that is a 401.
export function userFromAuthorization(
  header: string | readonly string[] | undefined,
): string | undefined {
  if (typeof header !== 'string') return undefined
  return BEARER.exec(header.trim())?.[1]
}

// What both apps attach to the request (Express `req.user`, Koa `ctx.state.user`):
// the shape the cache adapters read to key per-user rules.
export interface ShopUser {
  id: string
}
