/** The console's only backend is the /v1 API; errors carry the API's code and message. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
export const setCsrfToken = (token: string | null): void => {
  csrfToken = token;
};

export interface ApiResponse<T> {
  body: T;
  headers: Headers;
}

export async function call<T = any>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const h: Record<string, string> = { accept: 'application/json', ...headers };
  if (body !== undefined) h['content-type'] ??= 'application/json';
  if (method !== 'GET' && csrfToken) h['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const e = parsed?.error;
    throw new ApiError(res.status, e?.code ?? `http.${res.status}`, e?.message ?? res.statusText, parsed?.requestId, e?.details);
  }
  return { body: parsed as T, headers: res.headers };
}

export const get = async <T = any>(path: string): Promise<T> => (await call<T>('GET', path)).body;
export const post = async <T = any>(path: string, body: unknown = {}): Promise<T> => (await call<T>('POST', path, body)).body;
export const put = async <T = any>(path: string, body?: unknown): Promise<T> => (await call<T>('PUT', path, body)).body;
export const patch = async <T = any>(path: string, body: unknown): Promise<T> => (await call<T>('PATCH', path, body)).body;

export const qs = (params: Record<string, string | number | undefined | null>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};

export interface Department {
  id: string;
  nameZh: string;
  nameEn: string;
  kind: string;
  clearance: number;
}

export interface Me {
  department: Department;
  role: 'publisher' | 'consumer' | 'steward' | 'admin';
  actor: string;
  connect?: { kafkaBootstrap: string; registryPath: string };
  session: { method: string; subject: string; displayName: string | null; expiresAt: string; csrfToken: string } | null;
}

export interface CatalogField {
  name: string;
  type: string;
  description: string;
  sensitivity: number;
  masking: string;
  required: boolean;
}

export interface Dataset {
  id: string;
  title: { zh: string; en: string };
  owner: string;
  category: string;
  abstract: string;
  fields: CatalogField[];
  sharingType: string;
  sharingConditions: string | null;
  legalBasis: string | null;
  updateCycle: string;
  keyField: string;
  status: string;
  schemaSubject: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Subscription {
  id: string;
  dataset: string;
  consumer: string;
  requestedFields: string[];
  purpose: string;
  legalBasis: string | null;
  requestedUntil: string;
  delivery: string;
  status: string;
  statusReason: string | null;
  fields: Array<{ name: string; delivery: string }> | null;
  expiresAt: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  derivedSubject: string | null;
  topic: string;
  createdAt: string;
  updatedAt: string;
}

export interface Preview {
  dataset: string;
  consumer: string;
  fields: Array<{ name: string; delivery: string }>;
  withheld: string[];
  schema: any;
  records: Array<Record<string, unknown>>;
}
