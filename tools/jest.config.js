// The tools need no tensor backend: keep the preset's transform and mapping, drop its tfjs setup file.
// The parity tests (tools/parity/src) run here too; they select their tfjs backend themselves.
module.exports = {
  ...require('../jest.preset.js'),
  displayName: 'tools',
  setupFilesAfterEnv: [],
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/parity/src/**/*.test.ts'],
};
