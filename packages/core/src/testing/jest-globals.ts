/**
 * The test runner's globals the contract suites use (Jest's, or any runner
 * with the same), typed here with the few signatures needed so that
 * `@cachet/core` does not compile against any runner's types. They are read
 * from `globalThis` when a suite is declared, inside the caller's test file.
 */
export interface Matchers {
  toBe(expected: unknown): void
  toEqual(expected: unknown): void
  toContain(expected: unknown): void
  toContainEqual(expected: unknown): void
}

type Body = () => unknown

export interface RunnerGlobals {
  describe: (name: string, body: () => void) => void
  test: (name: string, body: Body, timeout?: number) => void
  expect: (actual: unknown) => Matchers
  beforeEach: (body: Body) => void
  afterEach: (body: Body) => void
}

export function runnerGlobals(): RunnerGlobals {
  const g = globalThis as unknown as Partial<RunnerGlobals>
  if (
    typeof g.describe !== 'function' ||
    typeof g.test !== 'function' ||
    typeof g.expect !== 'function'
  ) {
    throw new Error(
      '@cachet/core/testing: run the contract suites inside Jest (describe, test and expect are not defined)',
    )
  }
  return g as RunnerGlobals
}

// Read when called, inside the caller's test file, where the runner defines them.
export const describe = (name: string, body: () => void) => runnerGlobals().describe(name, body)
export const test = (name: string, body: () => unknown, timeout?: number) =>
  runnerGlobals().test(name, body, timeout)
export const expect = (actual: unknown) => runnerGlobals().expect(actual)
export const beforeEach = (body: () => unknown) => runnerGlobals().beforeEach(body)
export const afterEach = (body: () => unknown) => runnerGlobals().afterEach(body)
