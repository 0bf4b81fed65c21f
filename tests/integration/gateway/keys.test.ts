import { govx } from '../../support/cli';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * API keys over /v1/keys and `govx keys`: who may issue, list, revoke and rotate which keys, that a secret is
 * shown once and never again, that a revoked key is refused on its very next request, and that each step is
 * on the audit trail.
 */

let stack: TestStack;
let admin: string;
let psbSteward: string;
beforeAll(async () => {
  stack = await startTestStack();
  admin = await stack.key('info-office', 'admin');
  psbSteward = await stack.key('psb', 'steward');
});
afterAll(async () => {
  await stack?.close();
});

const api = (path: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${path}`, init);
const keyId = (key: string): string => key.split('_')[1]!;


describe('issuing keys over /v1/keys', () => {
  it('shows the secret once, and the new key works at once', async () => {
    const created = await api('/v1/keys', { key: admin, body: { department: 'tax', role: 'consumer', label: '税源核验系统' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[a-z0-9]{12}$/),
      key: expect.stringMatching(/^govx_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/),
      department: 'tax',
      role: 'consumer',
      label: '税源核验系统',
      createdAt: expect.any(String),
    });
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect((await api('/v1/datasets?limit=1', { key: created.body.key })).status).toBe(200);
    const listed = await api('/v1/keys?department=tax', { key: admin });
    const row = listed.body.items.find((k: { id: string }) => k.id === created.body.id);
    expect(row).toMatchObject({ department: 'tax', role: 'consumer', label: '税源核验系统', revokedAt: null, createdBy: `info-office/${keyId(admin)}` });
    // the secret is everything after the id: base64url, so it may itself hold '_' (split('_')[2] was sometimes one letter)
    const secret = (created.body.key as string).slice('govx_'.length + created.body.id.length + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
  });

  it("lets a steward issue keys of its own department only, and never an admin key", async () => {
    const own = await api('/v1/keys', { key: psbSteward, body: { department: 'psb', role: 'publisher' } });
    expect(own.status).toBe(201);
    const other = await api('/v1/keys', { key: psbSteward, body: { department: 'amr', role: 'publisher' } });
    expect([other.status, other.body.error.code]).toEqual([403, 'auth.forbidden']);
    const adminKey = await api('/v1/keys', { key: psbSteward, body: { department: 'psb', role: 'admin' } });
    expect([adminKey.status, adminKey.body.error.code]).toEqual([403, 'key.admin_only']);
    for (const role of ['publisher', 'consumer'] as const) {
      const key = await stack.key('psb', role);
      expect((await api('/v1/keys', { key, body: { department: 'psb', role: 'publisher' } })).status).toBe(403);
      expect((await api('/v1/keys', { key })).status).toBe(403);
    }
  });

  it('refuses malformed requests precisely', async () => {
    expect((await api('/v1/keys', { key: admin, body: { department: 'psb', role: 'overlord' } })).body.error.code).toBe('request.invalid');
    expect((await api('/v1/keys', { key: admin, body: { department: 'psb', role: 'publisher', extra: 1 } })).body.error.code).toBe('request.invalid');
    const unknown = await api('/v1/keys', { key: admin, body: { department: 'no-such-dept', role: 'publisher' } });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'department.not_found']);
  });
});

describe('listing keys', () => {
  it("shows a steward its own department's keys, never another's, and an admin every key", async () => {
    await stack.key('amr', 'publisher');
    const asPsb = await api('/v1/keys', { key: psbSteward });
    expect(asPsb.status).toBe(200);
    expect(asPsb.body.items.length).toBeGreaterThan(0);
    expect(asPsb.body.items.every((k: { department: string }) => k.department === 'psb')).toBe(true);
    expect((await api('/v1/keys?department=amr', { key: psbSteward })).body.items).toEqual([]);
    const all = await api('/v1/keys', { key: admin });
    expect(all.body.items.some((k: { department: string }) => k.department === 'amr')).toBe(true);
    for (const item of all.body.items) expect(Object.keys(item).sort()).toEqual(['createdAt', 'createdBy', 'department', 'id', 'label', 'replacedBy', 'revokedAt', 'revokedBy', 'role']);
  });
});

describe('revoking and rotating', () => {
  it('refuses a revoked key on its very next request, and audits who revoked it', async () => {
    const victim = await stack.key('psb', 'publisher');
    expect((await api('/v1/datasets?limit=1', { key: victim })).status).toBe(200);
    const revoked = await api(`/v1/keys/${keyId(victim)}/revoke`, { key: psbSteward, body: {} });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: keyId(victim), revokedAt: expect.any(String), revokedBy: `psb/${keyId(psbSteward)}` });
    const next = await api('/v1/datasets?limit=1', { key: victim });
    expect([next.status, next.body.error.code]).toEqual([401, 'auth.invalid_key']);
    const again = await api(`/v1/keys/${keyId(victim)}/revoke`, { key: psbSteward, body: {} });
    expect([again.status, again.body.error.code]).toEqual([409, 'key.revoked']);
    const { rows } = await stack.pool.query("SELECT actor_department, actor_key_id, outcome FROM audit_log WHERE action = 'key.revoke' AND target = $1", [`key:${keyId(victim)}`]);
    expect(rows).toEqual([{ actor_department: 'psb', actor_key_id: keyId(psbSteward), outcome: 'success' }]);
  });

  it("answers another department's key as if it did not exist, and keeps admin keys for admins", async () => {
    const amrKey = await stack.key('amr', 'publisher');
    const onOther = await api(`/v1/keys/${keyId(amrKey)}/revoke`, { key: psbSteward, body: {} });
    const onMissing = await api('/v1/keys/zzzzzzzzzzzz/revoke', { key: psbSteward, body: {} });
    expect([onOther.status, onOther.body.error.code]).toEqual([404, 'key.not_found']);
    expect(onMissing.body.error.code).toBe(onOther.body.error.code);
    expect((await api(`/v1/keys/${keyId(amrKey)}/rotate`, { key: psbSteward, body: {} })).status).toBe(404);
    expect((await api('/v1/datasets?limit=1', { key: amrKey })).status).toBe(200);
    const infoSteward = await stack.key('info-office', 'steward');
    const anAdmin = await stack.key('info-office', 'admin');
    const refused = await api(`/v1/keys/${keyId(anAdmin)}/rotate`, { key: infoSteward, body: {} });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'key.admin_only']);
  });

  it('rotates: a new secret once, the old key refused from then on, the link kept', async () => {
    const old = await stack.key('psb', 'consumer');
    const rotated = await api(`/v1/keys/${keyId(old)}/rotate`, { key: psbSteward, body: {} });
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ department: 'psb', role: 'consumer', replaces: keyId(old), key: expect.stringMatching(/^govx_/) });
    expect((await api('/v1/datasets?limit=1', { key: old })).status).toBe(401);
    expect((await api('/v1/datasets?limit=1', { key: rotated.body.key })).status).toBe(200);
    const listed = (await api('/v1/keys', { key: psbSteward })).body.items;
    expect(listed.find((k: { id: string }) => k.id === keyId(old))).toMatchObject({ replacedBy: rotated.body.id, revokedAt: expect.any(String) });
    expect((await api(`/v1/keys/${keyId(old)}/rotate`, { key: psbSteward, body: {} })).status).toBe(409);
  });
});

describe('govx keys', () => {
  it('creates, lists, rotates and revokes keys on the database, as the operator', async () => {
    const created = JSON.parse((await govx('keys', 'create', '--department', 'haidian', '--role', 'consumer', '--label', 'cli test', '--json')).out);
    expect(created).toMatchObject({ department: 'haidian', role: 'consumer', label: 'cli test', key: expect.stringMatching(/^govx_/) });
    const listed = (await govx('keys', 'list', '--department', 'haidian')).out;
    expect(listed).toMatch(new RegExp(`^${created.id}\\s+haidian\\s+consumer .* live\\s+cli test$`, 'm'));
    expect(listed).not.toContain(created.key);

    const rotated = JSON.parse((await govx('keys', 'rotate', created.id, '--json')).out);
    expect(rotated).toMatchObject({ replaces: created.id, department: 'haidian', role: 'consumer', label: 'cli test' });
    expect((await api('/v1/datasets?limit=1', { key: created.key })).status).toBe(401);
    expect((await api('/v1/datasets?limit=1', { key: rotated.key })).status).toBe(200);

    expect((await govx('keys', 'revoke', rotated.id)).out).toContain(`revoked consumer key ${rotated.id} of haidian`);
    expect((await api('/v1/datasets?limit=1', { key: rotated.key })).status).toBe(401);
    const { rows } = await stack.pool.query(
      "SELECT action, actor_department, actor_role FROM audit_log WHERE target IN ($1, $2) ORDER BY seq",
      [`key:${created.id}`, `key:${rotated.id}`],
    );
    expect(rows).toEqual([
      { action: 'key.create', actor_department: 'govx', actor_role: 'operator' },
      { action: 'key.rotate', actor_department: 'govx', actor_role: 'operator' },
      { action: 'key.revoke', actor_department: 'govx', actor_role: 'operator' },
    ]);
  });
});
