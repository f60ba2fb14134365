import type { Config } from 'jest'

// Tests run against the TypeScript sources (transpiled by SWC); `npm test`
// type-checks everything with `tsc -b` before Jest starts.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: {
    '^@cachet/(core|express|koa|fastify|cli)$': '<rootDir>/packages/$1/src/index.ts',
    '^@cachet/core/(.+)$': '<rootDir>/packages/core/src/$1/index.ts',
    '^@cachet/shop-common$': '<rootDir>/examples/shop-common/src/index.ts',
    '^@cachet/(express|koa|fastify)-shop$': '<rootDir>/examples/$1-shop/src/app.ts',
    '^@cachet/express-gateway$': '<rootDir>/examples/express-gateway/src/app.ts',
  },
  // One throwaway redis-server for the run, on a free loopback port, stopped by pid.
  globalSetup: '<rootDir>/test/support/redis/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/redis/global-teardown.ts',
  testTimeout: 30_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
}

export default config
