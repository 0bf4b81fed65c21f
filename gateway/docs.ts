/**
 * The readable docs page at GET /docs, rendered on the server from the OpenAPI document: self-contained HTML
 * (no scripts, no CDN), listing every operation with its parameters, body and answers, then the schemas.
 */

type Obj = Record<string, unknown>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** Markdown-ish text: paragraphs and `code` only. */
function prose(text: unknown): string {
  if (!text) return '';
  return String(text)
    .trim()
    .split(/\n\s*\n/)
    .map((p) => `<p>${esc(p).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`)
    .join('');
}

function refName(ref: string): string {
  return ref.split('/').pop() ?? ref;
}

function resolve(spec: Obj, value: unknown): Obj {
  let v = value as Obj;
  for (let i = 0; i < 5 && v && typeof v.$ref === 'string'; i++) {
    const path = (v.$ref as string).replace(/^#\//, '').split('/');
    v = path.reduce<unknown>((o, k) => (o as Obj)?.[k], spec) as Obj;
  }
  return v ?? {};
}

/** A one-line description of a schema, with links to named schemas. */
function typeOf(schema: unknown, depth = 0): string {
  const s = (schema ?? {}) as Obj;
  if (typeof s.$ref === 'string') return `<a href="#schema-${esc(refName(s.$ref))}">${esc(refName(s.$ref))}</a>`;
  if (depth > 3) return 'object';
  if (Array.isArray(s.oneOf)) return s.oneOf.map((x) => typeOf(x, depth + 1)).join(' | ');
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((e) => `<code>${esc(e)}</code>`).join(', ')}`;
  if (s.const !== undefined) return `<code>${esc(s.const)}</code>`;
  const type = Array.isArray(s.type) ? s.type.join(' | ') : String(s.type ?? 'any');
  if (s.type === 'array') return `array of ${typeOf(s.items, depth + 1)}`;
  const bounds = [
    s.minimum !== undefined ? `≥ ${esc(s.minimum)}` : '',
    s.maximum !== undefined ? `≤ ${esc(s.maximum)}` : '',
    s.maxLength !== undefined ? `≤ ${esc(s.maxLength)} chars` : '',
    s.format ? esc(s.format) : '',
    s.default !== undefined ? `default ${esc(s.default)}` : '',
  ].filter(Boolean);
  return `${esc(type)}${bounds.length ? ` <small>(${bounds.join(', ')})</small>` : ''}`;
}

function propertiesTable(spec: Obj, schema: Obj): string {
  const s = resolve(spec, schema);
  const props = (s.properties ?? {}) as Record<string, Obj>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  const rows = Object.entries(props)
    .map(([name, p]) => `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <b>*</b>' : ''}</td><td>${typeOf(p)}</td><td>${esc(p.description ?? '')}</td></tr>`)
    .join('');
  return rows ? `<table><tr><th>member</th><th>type</th><th>meaning</th></tr>${rows}</table>` : '';
}

function operation(spec: Obj, path: string, method: string, op: Obj, shared: Obj[]): string {
  const params = [...shared, ...((op.parameters as Obj[] | undefined) ?? [])].map((p) => resolve(spec, p));
  const security = (op.security ?? spec.security) as unknown[] | undefined;
  const paramRows = params
    .map((p) => `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <b>*</b>' : ''}</td><td>${esc(p.in)}</td><td>${typeOf(p.schema)}</td><td>${prose(p.description)}</td></tr>`)
    .join('');
  const body = op.requestBody ? resolve(spec, op.requestBody) : undefined;
  const bodyHtml = body
    ? Object.entries((body.content ?? {}) as Record<string, Obj>)
        .map(([type, media]) => `<div class="media"><code>${esc(type)}</code>: ${typeOf(media.schema)}${prose((media.schema as Obj | undefined)?.description)}${propertiesTable(spec, (media.schema ?? {}) as Obj)}</div>`)
        .join('')
    : '';
  const responses = Object.entries((op.responses ?? {}) as Record<string, Obj>)
    .map(([status, r]) => {
      const res = resolve(spec, r);
      const schema = Object.values((res.content ?? {}) as Record<string, Obj>)[0]?.schema;
      return `<tr><td><code>${esc(status)}</code></td><td>${esc(res.description ?? '')}</td><td>${schema ? typeOf(schema) : ''}</td></tr>`;
    })
    .join('');
  const id = esc(op.operationId ?? `${method}-${path}`);
  return `<section class="op" id="op-${id}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p class="summary">${esc(op.summary ?? '')}${security && security.length === 0 ? ' <span class="open">no key needed</span>' : ''}</p>
${prose(op.description)}
${paramRows ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>meaning</th></tr>${paramRows}</table>` : ''}
${bodyHtml ? `<h4>Body</h4>${bodyHtml}` : ''}
<h4>Answers</h4><table><tr><th>status</th><th>when</th><th>body</th></tr>${responses}</table>
</section>`;
}

export function renderDocsPage(spec: Obj): string {
  const info = (spec.info ?? {}) as Obj;
  const paths = (spec.paths ?? {}) as Record<string, Obj>;
  const ops: string[] = [];
  const toc: string[] = [];
  for (const [path, item] of Object.entries(paths)) {
    const shared = (item.parameters as Obj[] | undefined) ?? [];
    for (const method of METHODS) {
      const op = item[method] as Obj | undefined;
      if (!op) continue;
      ops.push(operation(spec, path, method, op, shared));
      toc.push(`<li><a href="#op-${esc(op.operationId ?? `${method}-${path}`)}"><span class="method ${method}">${method.toUpperCase()}</span> ${esc(path)}</a> — ${esc(op.summary ?? '')}</li>`);
    }
  }
  const schemas = Object.entries(((spec.components as Obj | undefined)?.schemas ?? {}) as Record<string, Obj>)
    .map(([name, s]) => `<section class="schema" id="schema-${esc(name)}"><h3>${esc(name)}</h3>${prose(s.description)}<p>${typeOf({ ...s, description: undefined })}</p>${propertiesTable(spec, s)}</section>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1d2330}
code{font-family:ui-monospace,monospace;background:#f2f4f7;padding:0 .25em;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #dde1e6;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f7f8fa}.op,.schema{border-top:1px solid #dde1e6;padding-top:.5em;margin-top:1.5em}
.method{display:inline-block;min-width:4em;text-align:center;font-weight:600;border-radius:3px;color:#fff;padding:0 .3em;font-size:.85em}
.get{background:#2f7d32}.post{background:#1f5fa8}.patch{background:#8a5a00}.put{background:#6b3fa0}.delete{background:#a82f2f}
.open{font-size:.8em;color:#555;border:1px solid #bbb;border-radius:3px;padding:0 .3em}ul.toc{list-style:none;padding:0}
</style></head><body>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
${prose(info.description)}
<p>The machine-readable document: <a href="/v1/openapi.yaml"><code>/v1/openapi.yaml</code></a> (OpenAPI ${esc(spec.openapi)}).</p>
<h2>Operations</h2><ul class="toc">${toc.join('')}</ul>
${ops.join('\n')}
<h2>Schemas</h2>
${schemas}
</body></html>
`;
}
