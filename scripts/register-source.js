// `node -r ./scripts/register-source.js file.ts`: runs workspace TypeScript without a build. Compiles with
// packages/cli/bin/transpile.js (transpileModule, cached on disk) and resolves `@adapters/<pkg>` (and `/testing`, `/cli`, `/recipes`) to packages/<pkg>/src/index.ts
// (src/testing/index.ts, src/cli.ts, src/recipes.ts).
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const repo = path.resolve(__dirname, '..');
// The CLI's transpiler (transpileModule, cached on disk by content): a warm start compiles nothing.
require(path.join(repo, 'packages', 'cli', 'bin', 'transpile.js')).registerTypeScript({
  compilerOptions: { target: 'ES2022', esModuleInterop: true, isolatedModules: true },
});

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const m = /^@adapters\/([a-z0-9-]+)(\/testing|\/cli|\/recipes)?$/.exec(request);
  if (m) {
    const source = path.join(repo, 'packages', m[1], 'src', ...(m[2] === '/testing' ? ['testing', 'index.ts'] : m[2] === '/cli' ? ['cli.ts'] : m[2] === '/recipes' ? ['recipes.ts'] : ['index.ts']));
    if (fs.existsSync(source)) return source;
  }
  return resolve.call(this, request, parent, ...rest);
};
