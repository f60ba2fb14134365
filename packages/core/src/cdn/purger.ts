/**
 * A CDN's purge API, as the purge queue (purge-queue.ts) drives it: one HTTP
 * call per `send`, for at most `maxTags` tags or `maxPaths` paths. Batching,
 * rate limiting, retries with backoff and reporting are the queue's; a purger
 * only speaks its CDN's protocol and says whether a failure may be retried.
 */
export interface PurgeBatch {
  /** Tags as the CDN knows them (already folded to fit its limits: see tag-budget.ts). */
  readonly tags: readonly string[]
  /** Path patterns (`/products/*`), only to a purger with `maxPaths > 0`. */
  readonly paths: readonly string[]
}

export type PurgeResult =
  | { readonly ok: true; readonly status: number }
  | {
      readonly ok: false
      /** The HTTP status, when the CDN answered. */
      readonly status?: number
      /** What went wrong, in the CDN's words where it gave any (never a credential). */
      readonly error: string
      /** Whether the same call may succeed later (429, 5xx, a network error); false for 4xx. */
      readonly retry: boolean
      /** The CDN's own wait before a retry (`Retry-After`, a rate-limit reset), in ms. */
      readonly retryAfterMs?: number
    }

export interface Purger {
  /** `fastly`, `cloudflare`...: for events, metrics and messages. */
  readonly name: string
  /** Tags one call may carry. */
  readonly maxTags: number
  /** Path patterns one call may carry; 0 when the CDN cannot purge by path. */
  readonly maxPaths: number
  /** Whether purges mark content stale (revalidated) rather than remove it. */
  readonly soft: boolean
  /**
   * Calls the purge API once for `batch`. Never rejects: a network error, a
   * timeout (`signal`) or an unexpected answer is a failed result.
   */
  send(batch: PurgeBatch, signal: AbortSignal): Promise<PurgeResult>
  /** Purges everything the CDN holds for the site, where its API can (`purge()`, a queue past its bound). */
  purgeAll?(signal: AbortSignal): Promise<PurgeResult>
}
