import type { InvalidationPlan } from '../invalidation/local-state'
import type { CdnConfig } from './options'
import type { PurgeQueue } from './purge-queue'
import { purgeForms } from './tag-budget'

/**
 * What an invalidation purges at the CDN: the tags of its plan as the CDN
 * knows them (every form: see `purgeForms`), never a user's (per-user
 * responses never reach a CDN), and the path patterns no rule's tag covers;
 * with `all` (a purge of everything), everything where the CDN's API can.
 */
export function purgePlan(
  cdn: { readonly config: CdnConfig; readonly queue: PurgeQueue },
  plan: InvalidationPlan,
  all = false,
): void {
  if (all && cdn.queue.addAll()) return
  const tags = plan.tags
    .filter((t) => !t.startsWith('#user:'))
    .flatMap((t) => purgeForms(t, cdn.config.profile))
  cdn.queue.add(tags, plan.patterns)
}
