// What tests read: the shared server that global-setup.ts starts once per Jest run.

export const REDIS_URL_ENV = 'CACHET_TEST_REDIS_URL'
export const REDIS_PID_ENV = 'CACHET_TEST_REDIS_PID'

/** The shared test server's URL; throws (one line) when Jest's globalSetup is not wired up. */
export function sharedRedisUrl(): string {
  const url = process.env[REDIS_URL_ENV]
  if (!url) {
    throw new Error(
      `${REDIS_URL_ENV} is not set: add globalSetup ./test/support/redis/global-setup.ts to jest.config.ts, or point it at a running Redis`,
    )
  }
  return url
}
