import { isJsonObject } from './exchange'

// Per-user carts for the `/me/cart` routes: the per-user cache rule needs an
// origin whose answer really differs by user and changes on every write.

export interface Cart {
  readonly user: string
  readonly items: readonly string[]
  // 0 for a cart that was never written; each `add` bumps it by one.
  readonly version: number
}

export const MAX_SKU_LENGTH = 128
// A bound on what one user can make the process hold.
export const MAX_CART_ITEMS = 1000

export class Carts {
  // Carts are frozen and replaced on write, like products, so a body handed to a
  // framework never changes under it.
  #carts = new Map<string, Cart>()

  get(user: string): Cart {
    return this.#carts.get(user) ?? Object.freeze({ user, items: [], version: 0 })
  }

  // Appends `sku`; undefined when the cart is full.
  add(user: string, sku: string): Cart | undefined {
    const current = this.get(user)
    if (current.items.length >= MAX_CART_ITEMS) return undefined
    const next = Object.freeze({
      user,
      items: Object.freeze([...current.items, sku]),
      version: current.version + 1,
    })
    this.#carts.set(user, next)
    return next
  }
}

// The `sku` of a `POST /me/cart` body, or undefined when the body is not
// `{ "sku": string }` with a non-empty sku of at most MAX_SKU_LENGTH characters.
export function parseSku(body: unknown): string | undefined {
  const sku = isJsonObject(body) ? body.sku : undefined
  if (typeof sku !== 'string' || sku.length === 0 || sku.length > MAX_SKU_LENGTH) return undefined
  return sku
}
