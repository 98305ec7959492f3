// Runs the package's TypeScript scripts without a build: ts-node (transpile only) plus the workspace's
// `@adapters/NAME` → packages/NAME/src/index.ts mapping (what jest's moduleNameMapper does for tests).
// Usage: node -r ./scripts/register.js scripts/real-run.ts
const Module = require('module');
const path = require('path');

require('ts-node').register({ transpileOnly: true, compilerOptions: { module: 'commonjs', rootDir: path.resolve(__dirname, '..', '..', '..') } });

const packages = path.resolve(__dirname, '..', '..');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@adapters\/([a-z-]+)(\/testing)?$/.exec(request);
  if (m) request = path.join(packages, m[1], 'src', m[2] ? 'testing/index.ts' : 'index.ts');
  return resolve.call(this, request, ...rest);
};
