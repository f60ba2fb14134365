// The product catalogue of CONTRACT.md ("Data"): products 1..1000, each about
// 2 KB of JSON so that cache sizes and byte budgets in tests are realistic.
// Everything is derived from the id, so every process (and both apps) start
// with byte-identical products.

export interface Product {
  readonly id: number
  readonly name: string
  readonly category: string
  readonly price: number
  readonly version: number
  readonly description: string
}

export const PRODUCT_COUNT = 1000
export const PAGE_SIZE = 20
export const CATEGORY_COUNT = 10

// Aim for the middle of the 1900-2200 byte band, so a few more digits in the
// price or version after updates never push a product out of it.
const TARGET_JSON_BYTES = 2000

const WORDS = (
  'sturdy compact handmade walnut linen steel quiet bright modular classic ' +
  'travel kitchen garden studio daily precise warm light durable gentle'
).split(' ')

export class Catalog {
  // Products are frozen and replaced on update, never mutated: a response body
  // that a framework serialises later still shows the version it was given.
  #products: Product[] = []

  constructor() {
    for (let id = 1; id <= PRODUCT_COUNT; id++) this.#products.push(initialProduct(id))
  }

  get(id: number): Product | undefined {
    return this.#products[id - 1]
  }

  update(id: number, price: number): Product | undefined {
    const current = this.get(id)
    if (current === undefined) return undefined
    const next = Object.freeze({ ...current, price, version: current.version + 1 })
    this.#products[id - 1] = next
    return next
  }

  // One 1-based page of the products of `category` (all when undefined); a page
  // past the end is empty.
  list(category: string | undefined, page: number): Product[] {
    const matching =
      category === undefined
        ? this.#products
        : this.#products.filter((p) => p.category === category)
    const start = (page - 1) * PAGE_SIZE
    return matching.slice(start, start + PAGE_SIZE)
  }
}

// The copy of `product` for `lang`: only `fr` is translated, by prefixing the name.
export function localize(product: Product, lang: string | undefined): Product {
  return lang === 'fr' ? { ...product, name: `fr:${product.name}` } : product
}

// A product id as it appears in a path: canonical decimal only, so `/products/01`
// is not a second URL (and a second cache entry) for product 1.
export function parseProductId(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^[1-9]\d{0,3}$/.test(raw)) return undefined
  const id = Number(raw)
  return id <= PRODUCT_COUNT ? id : undefined
}

function initialProduct(id: number): Product {
  const base = {
    id,
    name: `Product ${id}`,
    category: `cat-${id % CATEGORY_COUNT}`,
    // One integer division, so the price prints with at most two decimals.
    price: (100 + ((id * 7919) % 9900)) / 100,
    version: 1,
    description: '',
  }
  const room = TARGET_JSON_BYTES - JSON.stringify(base).length
  return Object.freeze({ ...base, description: describe(id, room) })
}

// Deterministic ASCII text of exactly `length` characters, different per id.
function describe(id: number, length: number): string {
  let seed = id
  let text = `Product ${id} is a`
  while (text.length < length) {
    // A 32-bit LCG; its high bits are the well-mixed ones.
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    text += ` ${WORDS[(seed >>> 16) % WORDS.length]}`
  }
  return `${text.slice(0, length - 1)}.`
}
