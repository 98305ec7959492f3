// Shared jest preset: every package's jest.config.js spreads this.
const path = require('path');

/** Maps each workspace package to its TypeScript source so tests never need a prior build. */
const moduleNameMapper = {
  '^@adapters/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/index.ts'),
  '^@adapters/([a-z-]+)/testing$': path.join(__dirname, 'packages/$1/src/testing/index.ts'),
  '^@adapters/([a-z-]+)/cli$': path.join(__dirname, 'packages/$1/src/cli.ts'),
  '^@adapters/([a-z-]+)/recipes$': path.join(__dirname, 'packages/$1/src/recipes.ts'),
};

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.base.json'), diagnostics: { warnOnly: false }}],
  },
  moduleNameMapper,
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 120000,
  setupFilesAfterEnv: [path.join(__dirname, 'jest.setup.js')],
};
