// The OpenAPI 3.1 description served at /openapi.json, assembled from the same schemas Fastify validates with.
import { errorSchema } from './schemas';

export interface RouteDoc {
  readonly method: string;
  readonly url: string;
  readonly schema: { readonly summary?: string; readonly body?: unknown; readonly params?: unknown; readonly response?: Readonly<Record<number, unknown>> };
  readonly produces?: string;
}

const toOpenApiPath = (url: string): string => url.replace(/:([A-Za-z]+)/g, '{$1}');

export function openApiDocument(routes: readonly RouteDoc[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = { summary: r.schema.summary ?? r.url };
    const params = r.schema.params as { properties?: Record<string, unknown> } | undefined;
    if (params?.properties) op['parameters'] = Object.entries(params.properties).map(([name, schema]) => ({ name, in: 'path', required: true, schema }));
    if (r.schema.body) op['requestBody'] = { required: true, content: { 'application/json': { schema: r.schema.body } } };
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries(r.schema.response ?? {})) responses[code] = { description: 'OK', content: { 'application/json': { schema } } };
    if (r.produces) responses['200'] = { description: 'OK', content: { [r.produces]: { schema: { type: 'string' } } } };
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' };
    responses['default'] = { description: 'error (4xx: bad request; 503 with Retry-After: overloaded or shutting down; 504: queued too long)', content: { 'application/json': { schema: errorSchema } } };
    op['responses'] = responses;
    (paths[toOpenApiPath(r.url)] ??= {})[r.method.toLowerCase()] = op;
  }
  return { openapi: '3.1.0', info: { title: 'adapters serve', version }, paths };
}
