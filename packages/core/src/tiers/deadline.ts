/** Raised when a Redis operation did not answer within its deadline. */
export class DeadlineError extends Error {
  constructor(operation: string, ms: number) {
    super(`${operation} took longer than ${ms} ms`)
    this.name = 'DeadlineError'
  }
}

/**
 * Races `promise` against a timer: a slow or hung Redis becomes an error
 * within `ms`, and a late reply is ignored (its rejection too). When the timer
 * fires, the rejection waits for the event loop's next I/O poll
 * (`setImmediate`): after a stall of the loop itself (a long synchronous task,
 * a GC pause) a reply already in the socket's buffer still wins, instead of
 * losing to a timer that only fired late because of the stall.
 */
export function withDeadline<T>(operation: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      setImmediate(() => reject(new DeadlineError(operation, ms)))
    }, ms)
    timer.unref()
  })
  promise.catch(() => {})
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
