/**
 * Three projects:
 * - `unit`: pure logic, specs beside the code (src/**\/*.spec.ts), no servers; parallel.
 * - `static`: the service-free checks of manifests, pipelines and scripts in test/ (deployment files, the
 *   delivery pipeline, the deploy scripts, docker-compose); parallel, no global setup.
 * - `integration`: the rest of test/, against the real servers that scripts/test.sh starts; they share
 *   them (and the global setup's template database), so they run in band.
 * `npm test` (scripts/test.sh) runs unit and static in parallel, then integration in band.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

const STATIC_TESTS = '/test/(deployment-[^/]*|delivery-pipeline|deploy-scripts|docker-compose)\\.test\\.ts$';

module.exports = {
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/src'],
      testMatch: ['**/*.spec.ts'],
      transform: { '^.+\\.ts$': tsJest },
    },
    {
      displayName: 'static',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testRegex: STATIC_TESTS,
      transform: { '^.+\\.ts$': tsJest },
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', STATIC_TESTS],
      transform: { '^.+\\.ts$': tsJest },
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
