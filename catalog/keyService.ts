import { appendAudit, type AuditActor } from './audit';
import { type ApiKeyInfo, type CreatedKey, createApiKey, getApiKey, listApiKeys, type Principal, revokeApiKey } from './keys';
import { withTransaction, type Pool } from '../lib/db';
import { ConflictError, ForbiddenError, NotFoundError } from '../lib/errors';

/**
 * Who manages API keys: administrators every key; a department's stewards the keys of their own department,
 * except admin keys (a steward never mints or retires an administrator). Publishers and consumers manage
 * none. A key outside the caller's reach looks like one that does not exist. Every change is audited, and a
 * revoked key is refused from the next request on (authentication reads the key on every request).
 */

/** Who asks: a key's principal, or the installation's operator at the CLI (who holds the database). */
export type KeyManager = { kind: 'key'; principal: Principal } | { kind: 'operator' };

const OPERATOR: AuditActor = { department: 'govx', keyId: null, role: 'operator' };

const actorOf = (m: KeyManager): AuditActor =>
  m.kind === 'operator' ? OPERATOR : { department: m.principal.department, keyId: m.principal.keyId, role: m.principal.role };

const madeBy = (m: KeyManager): string => (m.kind === 'operator' ? 'operator' : `${m.principal.department}/${m.principal.keyId}`);

const isAdmin = (m: KeyManager): boolean => m.kind === 'operator' || m.principal.role === 'admin';

function requireKeyManager(m: KeyManager): void {
  if (m.kind === 'key' && m.principal.role !== 'admin' && m.principal.role !== 'steward') {
    throw new ForbiddenError(`managing API keys needs an admin or steward key; this key is a ${m.principal.role}`);
  }
}

const notFound = (id: string): NotFoundError => new NotFoundError('key.not_found', `no API key "${id.slice(0, 40)}"`);

/** A key the manager may act on, or 404 for one it may not know of. */
async function manageableKey(pool: Pool, m: KeyManager, id: string): Promise<ApiKeyInfo> {
  requireKeyManager(m);
  const key = await getApiKey(pool, id);
  if (!key || (!isAdmin(m) && m.kind === 'key' && key.department !== m.principal.department)) throw notFound(id);
  if (key.role === 'admin' && !isAdmin(m)) throw new ForbiddenError('only administrators manage admin keys', 'key.admin_only');
  return key;
}

export async function listKeys(pool: Pool, m: KeyManager, filter: { department?: string } = {}): Promise<ApiKeyInfo[]> {
  requireKeyManager(m);
  if (isAdmin(m)) return listApiKeys(pool, filter);
  const own = (m as { principal: Principal }).principal.department;
  // A steward asking for another department's keys gets what it may see of them: none.
  if (filter.department !== undefined && filter.department !== own) return [];
  return listApiKeys(pool, { department: own });
}

export async function issueKey(
  pool: Pool,
  m: KeyManager,
  input: { department: string; role: string; label?: string | null },
  requestId: string | null = null,
): Promise<CreatedKey> {
  requireKeyManager(m);
  if (!isAdmin(m)) {
    const own = (m as { principal: Principal }).principal.department;
    if (input.department !== own) throw new ForbiddenError(`stewards issue keys of their own department (${own}) only`);
    if (input.role === 'admin') throw new ForbiddenError('only administrators issue admin keys', 'key.admin_only');
  }
  return withTransaction(pool, async (tx) => {
    const created = await createApiKey(tx, { ...input, createdBy: madeBy(m) });
    await appendAudit(tx, {
      actor: actorOf(m), action: 'key.create', target: `key:${created.id}`, outcome: 'success', requestId,
      details: { department: created.department, role: created.role, label: created.label, via: m.kind === 'operator' ? 'cli' : 'api' },
    });
    return created;
  });
}

export async function revokeKey(pool: Pool, m: KeyManager, id: string, requestId: string | null = null): Promise<ApiKeyInfo> {
  const key = await manageableKey(pool, m, id);
  await withTransaction(pool, async (tx) => {
    if (!(await revokeApiKey(tx, key.id, madeBy(m)))) throw new ConflictError('key.revoked', `API key ${key.id} is already revoked`);
    await appendAudit(tx, {
      actor: actorOf(m), action: 'key.revoke', target: `key:${key.id}`, outcome: 'success', requestId,
      details: { department: key.department, role: key.role, via: m.kind === 'operator' ? 'cli' : 'api' },
    });
  });
  return (await getApiKey(pool, key.id))!;
}

/** A new key with the same department, role and label; the old one is revoked in the same transaction. */
export async function rotateKey(pool: Pool, m: KeyManager, id: string, requestId: string | null = null): Promise<CreatedKey & { replaces: string }> {
  const key = await manageableKey(pool, m, id);
  return withTransaction(pool, async (tx) => {
    const created = await createApiKey(tx, { department: key.department, role: key.role, label: key.label, createdBy: madeBy(m) });
    if (!(await revokeApiKey(tx, key.id, madeBy(m), created.id))) throw new ConflictError('key.revoked', `API key ${key.id} is revoked; issue a new key instead`);
    await appendAudit(tx, {
      actor: actorOf(m), action: 'key.rotate', target: `key:${key.id}`, outcome: 'success', requestId,
      details: { department: key.department, role: key.role, replacedBy: created.id, via: m.kind === 'operator' ? 'cli' : 'api' },
    });
    return { ...created, replaces: key.id };
  });
}
