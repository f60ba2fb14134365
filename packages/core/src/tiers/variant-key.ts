/**
 * Separates a URI's key from the variant's part (variants: engine/variants.ts).
 * No key contains it: a request line and header values cannot carry NUL (RFC
 * 9110 §5.5), and the namespace and rule names are checked at start-up to be
 * free of control characters. A tier places a variant with its URI's key
 * (`primaryKeyOf`): in a sharded Redis both live in one shard, under one fence.
 */
export const VARIANT_SEPARATOR = '\u0000'

/** The URI's key of a key: itself, or the part of a variant key before the separator. */
export function primaryKeyOf(key: string): string {
  const at = key.indexOf(VARIANT_SEPARATOR)
  return at === -1 ? key : key.slice(0, at)
}
