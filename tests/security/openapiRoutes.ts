import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** Every operation of gateway/openapi.yaml, as the security tests walk them: the source of truth of the routes. */

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: Record<string, unknown>;
}

export interface Operation {
  operationId: string;
  method: string;
  /** as in the document, e.g. /v1/datasets/{id} */
  path: string;
  parameters: Parameter[];
  /** media types of the request body, empty when it takes none */
  bodyTypes: string[];
  /** false for the routes that need no key (health, the document itself) */
  authenticated: boolean;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function loadOperations(file = path.resolve(__dirname, '..', '..', 'gateway', 'openapi.yaml')): Operation[] {
  const spec = YAML.parse(fs.readFileSync(file, 'utf8')) as {
    paths: Record<string, Record<string, any>>;
    components: { parameters: Record<string, Parameter> };
  };
  const resolve = (p: any): Parameter => (p.$ref ? spec.components.parameters[String(p.$ref).split('/').pop()!]! : p);
  const operations: Operation[] = [];
  for (const [route, item] of Object.entries(spec.paths)) {
    const shared = ((item.parameters ?? []) as any[]).map(resolve);
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      operations.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path: route,
        parameters: [...shared, ...((op.parameters ?? []) as any[]).map(resolve)],
        bodyTypes: Object.keys(op.requestBody?.content ?? {}),
        authenticated: !(Array.isArray(op.security) && op.security.length === 0),
      });
    }
  }
  return operations;
}

/** /v1/datasets/{id} with {id: 'x'} → /v1/datasets/x (values percent-encoded). */
export function fillPath(route: string, values: Record<string, string>): string {
  return route.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));
}
