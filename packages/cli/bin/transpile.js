// Runs workspace TypeScript without a build: a require hook for `.ts` files that transpiles each with TypeScript's
// transpileModule (no type check, like ts-node's transpile-only) and keeps the output in a disk cache keyed by the
// file's path and content, the compiler options and TypeScript's version. Only new or changed files are compiled;
// a warm start reads JavaScript (the CLI started in ~5 s from source, nearly all of it compiling). The cache lives in
// the nearest node_modules/.cache/adapters-transpile (or the OS temp dir) and entries are written by rename, so
// concurrent processes never read half a file; an unwritable cache only costs the compile.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

/** node_modules/.cache/adapters-transpile above `from`, else one under the OS temp dir. */
function defaultCacheDir(from) {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules', '.cache', 'adapters-transpile');
    if (path.dirname(dir) === dir) return path.join(os.tmpdir(), 'adapters-transpile');
  }
}

/**
 * Installs the hook. `compilerOptions` are tsconfig-style JSON options (strings, as in tsconfig.json); the module
 * format is always CommonJS with an inline source map (stack traces name the .ts lines). Returns the cache dir
 * and counters of hits and compiles (for tests).
 */
function registerTypeScript({ compilerOptions = {}, cacheDir = process.env.ADAPTERS_TRANSPILE_CACHE || defaultCacheDir(__dirname) } = {}) {
  const json = { ...compilerOptions, module: 'commonjs', sourceMap: false, inlineSourceMap: true, inlineSources: true, declaration: false, noEmit: false };
  const tsVersion = require('typescript/package.json').version;
  const salt = `${tsVersion}\0${JSON.stringify(json)}\0`;
  const stats = { cacheDir, hits: 0, compiles: 0 };
  let ts;
  let options;
  const compile = (source, filename) => {
    if (ts === undefined) {
      ts = require('typescript');
      const converted = ts.convertCompilerOptionsFromJson(json, process.cwd());
      if (converted.errors.length > 0) throw new Error(`transpile: bad compiler options: ${ts.flattenDiagnosticMessageText(converted.errors[0].messageText, ' ')}`);
      options = converted.options;
    }
    return ts.transpileModule(source, { fileName: filename, compilerOptions: options, reportDiagnostics: false }).outputText;
  };
  require.extensions['.ts'] = function loadTypeScript(module, filename) {
    const source = fs.readFileSync(filename, 'utf8');
    const key = crypto.createHash('sha256').update(salt).update(filename).update('\0').update(source).digest('hex');
    const file = path.join(cacheDir, key.slice(0, 2), `${key.slice(2)}.js`);
    let js;
    try {
      js = fs.readFileSync(file, 'utf8');
      stats.hits++;
    } catch {
      js = compile(source, filename);
      stats.compiles++;
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
        fs.writeFileSync(tmp, js);
        fs.renameSync(tmp, file);
      } catch {
        // No cache here (read-only or full disk): the next start compiles again.
      }
    }
    module._compile(js, filename);
  };
  if (typeof process.setSourceMapsEnabled === 'function') process.setSourceMapsEnabled(true);
  return stats;
}

module.exports = { registerTypeScript, defaultCacheDir };
