'use strict';
// Two projects: fast unit tests, and integration tests against the real Kafka broker and PostgreSQL that
// tests/support/globalSetup.ts starts (through scripts/services.sh) and prepares.
// Type checking is `npm run typecheck`; ts-jest only transpiles here.
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] };
module.exports = {
  // testTimeout is a global option: inside a project entry Jest ignores it and hooks fall back to 5 s.
  testTimeout: 60000,
  // kafkajs and pg clients that a failing test could not close must not keep CI waiting forever;
  // every suite closes what it opens (run with --detectOpenHandles to find one that does not).
  forceExit: true,
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
      globalSetup: '<rootDir>/tests/support/globalSetup.ts',
      setupFiles: ['<rootDir>/tests/support/setupEnv.ts'],
      testTimeout: 60000,
    },
    {
      // Attacks on every route: the authorization matrix and fuzzing generated from gateway/openapi.yaml,
      // connector confinement, hostile records. Real services, like the integration tests.
      displayName: 'security',
      testMatch: ['<rootDir>/tests/security/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
      globalSetup: '<rootDir>/tests/support/globalSetup.ts',
      setupFiles: ['<rootDir>/tests/support/setupEnv.ts'],
    },
    {
      // The web console in Debian's Chromium (playwright-core, never a downloaded browser), signing in through a
      // real OpenID provider; one browser per suite.
      displayName: 'browser',
      testMatch: ['<rootDir>/tests/browser/**/*.test.ts'],
      testEnvironment: 'node',
      transform,
      globalSetup: '<rootDir>/tests/support/globalSetup.ts',
      setupFiles: ['<rootDir>/tests/support/setupEnv.ts'],
    },
  ],
};
