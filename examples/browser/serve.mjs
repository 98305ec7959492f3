// A static file server for the example (and its browser test): correct MIME types (application/wasm lets tfjs
// compile the wasm while it downloads), 404 for absent files, nothing outside the root.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm', '.map': 'application/json', '.txt': 'text/plain', '.safetensors': 'application/octet-stream' };

export function serve(root, port = 0) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(root + sep) && file !== root) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolvePromise) => server.listen(port, '127.0.0.1', () => {
    const { port: p } = server.address();
    resolvePromise({ url: `http://127.0.0.1:${p}/`, close: () => new Promise((r) => server.close(() => r())) });
  }));
}
