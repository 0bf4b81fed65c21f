import type { Dataset } from './api';

/** What an administrator edits of a dataset, flattened to paths so two edits can be compared and merged. */
export interface EditState {
  'title.zh': string;
  'title.en': string;
  abstract: string;
  category: string;
  sharingType: string;
  sharingConditions: string;
  legalBasis: string;
  updateCycle: string;
  status: string;
  [fieldPath: `fields.${string}`]: string;
}

export type Flat = Record<string, string>;

export function flatten(d: Pick<Dataset, 'title' | 'abstract' | 'category' | 'sharingType' | 'sharingConditions' | 'legalBasis' | 'updateCycle' | 'status' | 'fields'>): Flat {
  const out: Flat = {
    'title.zh': d.title.zh,
    'title.en': d.title.en,
    abstract: d.abstract ?? '',
    category: d.category,
    sharingType: d.sharingType,
    sharingConditions: d.sharingConditions ?? '',
    legalBasis: d.legalBasis ?? '',
    updateCycle: d.updateCycle,
    status: d.status,
  };
  for (const f of d.fields ?? []) {
    out[`fields.${f.name}.sensitivity`] = String(f.sensitivity);
    out[`fields.${f.name}.masking`] = f.masking;
    out[`fields.${f.name}.description`] = f.description ?? '';
  }
  return out;
}

export interface Change {
  path: string;
  before: string | undefined;
  after: string | undefined;
}

export function diffFlat(a: Flat, b: Flat): Change[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.filter((k) => a[k] !== b[k]).map((k) => ({ path: k, before: a[k], after: b[k] }));
}

/** A JSON merge patch of the catalog entry with just what differs between `base` and `draft`. */
export function patchOf(base: Flat, draft: Flat): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const fields = new Map<string, Record<string, unknown>>();
  for (const { path, after } of diffFlat(base, draft)) {
    if (path.startsWith('title.')) patch.title = { zh: draft['title.zh'], en: draft['title.en'] };
    else if (path.startsWith('fields.')) {
      const rest = path.slice('fields.'.length);
      const dot = rest.lastIndexOf('.');
      const name = rest.slice(0, dot);
      const attr = rest.slice(dot + 1);
      const entry = fields.get(name) ?? { name };
      entry[attr] = attr === 'sensitivity' ? Number(after) : after;
      fields.set(name, entry);
    } else if (path === 'sharingConditions' || path === 'legalBasis') patch[path] = after ? after : null;
    else patch[path] = after;
  }
  if (fields.size) patch.fields = [...fields.values()];
  return patch;
}

/** Schema versions compared field by field: added, removed, retyped, redocumented. */
export function diffSchemas(a: any, b: any): Array<{ field: string; change: 'added' | 'removed' | 'type' | 'doc'; before?: string; after?: string }> {
  const fa = new Map<string, any>((a?.fields ?? []).map((f: any) => [f.name, f]));
  const fb = new Map<string, any>((b?.fields ?? []).map((f: any) => [f.name, f]));
  const out: Array<{ field: string; change: 'added' | 'removed' | 'type' | 'doc'; before?: string; after?: string }> = [];
  for (const [name, f] of fb) {
    const old = fa.get(name);
    if (!old) out.push({ field: name, change: 'added', after: JSON.stringify(f.type) });
    else {
      if (JSON.stringify(old.type) !== JSON.stringify(f.type)) out.push({ field: name, change: 'type', before: JSON.stringify(old.type), after: JSON.stringify(f.type) });
      if ((old.doc ?? '') !== (f.doc ?? '')) out.push({ field: name, change: 'doc', before: old.doc, after: f.doc });
    }
  }
  for (const [name, f] of fa) if (!fb.has(name)) out.push({ field: name, change: 'removed', before: JSON.stringify(f.type) });
  return out;
}
