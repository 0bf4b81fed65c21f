import { govx } from '../support/cli';
import { departmentKafka, httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * Departments' Kafka credentials over the API and the CLI, against the real broker: the password is shown
 * once and authenticates at the broker; govx keeps no trace of it (its row and its audit entries hold
 * neither password); rotation stops the old password, revocation the new one; every change is audited; the
 * department's consumers and other departments' stewards see no such thing. (amr: no other suite issues its
 * credentials, so this one may rotate and revoke them.)
 */

const DEPARTMENT = 'amr';
let stack: TestStack;
let steward: string;
const url = (suffix = ''): string => `${stack.url}/v1/departments/${DEPARTMENT}/kafka-credentials${suffix}`;

beforeAll(async () => {
  stack = await startTestStack();
  steward = await stack.key(DEPARTMENT, 'steward');
});
afterAll(async () => {
  await stack?.close();
});

/** Whether the broker lets `password` authenticate as the department (a connection and a metadata request). */
async function authenticates(password: string): Promise<boolean> {
  const admin = departmentKafka(`dept.${DEPARTMENT}`, password, {}).admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch (err) {
    if ((err as Error).name === 'KafkaJSSASLAuthenticationError' || /SASL|[Aa]uthentication/.test((err as Error).message)) return false;
    throw err;
  } finally {
    await admin.disconnect();
  }
}

async function auditOf(action: string): Promise<Array<{ actor_department: string; actor_role: string; target: string; details: Record<string, unknown> }>> {
  const { rows } = await stack.pool.query('SELECT actor_department, actor_role, target, details FROM audit_log WHERE action = $1 AND target = $2 ORDER BY seq', [
    action,
    `kafka-principal:User:dept.${DEPARTMENT}`,
  ]);
  return rows;
}


describe('Kafka credentials of a department', () => {
  const passwords: string[] = [];

  it('are issued by its steward once, shown once, and authenticate at the broker as dept.<department>', async () => {
    const created = await httpJson(url(), { method: 'POST', key: steward });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.body).toMatchObject({
      department: DEPARTMENT,
      username: `dept.${DEPARTMENT}`,
      principal: `User:dept.${DEPARTMENT}`,
      mechanism: 'SCRAM-SHA-512',
      securityProtocol: 'SASL_SSL',
      groupPrefix: `dept.${DEPARTMENT}.`,
      status: 'active',
      rotatedAt: null,
      revokedAt: null,
    });
    expect(created.body.bootstrapServers).toEqual(stack.config.kafkaDepartmentBrokers);
    expect(created.body.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    passwords.push(created.body.password);
    expect(await authenticates(created.body.password)).toBe(true);
    expect(await authenticates(`${created.body.password}x`)).toBe(false);

    // shown once: reading them back never includes the password; issuing again is a conflict
    const shown = await httpJson(url(), { key: steward });
    expect(shown.status).toBe(200);
    expect(shown.body.status).toBe('active');
    expect(shown.body).not.toHaveProperty('password');
    const again = await httpJson(url(), { method: 'POST', key: steward });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('kafka_credentials.exists');
  });

  it('are none of the business of its consumers or of another department, who see no such department', async () => {
    for (const key of [await stack.key(DEPARTMENT, 'consumer'), await stack.key('tax', 'steward')]) {
      for (const [method, suffix] of [['GET', ''], ['POST', ''], ['POST', '/rotate'], ['DELETE', '']] as const) {
        const res = await httpJson(url(suffix), { method, key });
        expect({ method, suffix, status: res.status, code: res.body.error.code }).toEqual({ method, suffix, status: 404, code: 'department.not_found' });
      }
    }
    const nobody = await httpJson(`${stack.url}/v1/departments/no-such-dept/kafka-credentials`, { key: await stack.key('info-office', 'admin') });
    expect(nobody.status).toBe(404);
    expect(nobody.body.error.code).toBe('department.not_found');
  });

  it('rotate to a new password at once: the old one no longer authenticates', async () => {
    const rotated = await httpJson(url('/rotate'), { method: 'POST', key: steward });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    expect(rotated.body.rotatedAt).not.toBeNull();
    passwords.push(rotated.body.password);
    expect(rotated.body.password).not.toBe(passwords[0]);
    expect(await authenticates(passwords[0]!)).toBe(false);
    expect(await authenticates(rotated.body.password)).toBe(true);
  });

  it('are revoked at the broker, and a revoked credential can be neither rotated nor revoked again', async () => {
    const revoked = await httpJson(url(), { method: 'DELETE', key: steward });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked' });
    expect(revoked.body.revokedAt).not.toBeNull();
    expect(await authenticates(passwords[1]!)).toBe(false);
    expect((await httpJson(url('/rotate'), { method: 'POST', key: steward })).body.error.code).toBe('kafka_credentials.not_found');
    expect((await httpJson(url(), { method: 'DELETE', key: steward })).body.error.code).toBe('kafka_credentials.not_found');
  });

  it('are issued and revoked by the operator with `govx kafka credentials`, the password printed once', async () => {
    const created = await govx('kafka', 'credentials', 'create', '--department', DEPARTMENT, '--json');
    expect(created.exitCode).toBe(0);
    const issued = JSON.parse(created.out) as { password: string; status: string; principal: string };
    expect(issued).toMatchObject({ status: 'active', principal: `User:dept.${DEPARTMENT}` });
    passwords.push(issued.password);
    expect(await authenticates(issued.password)).toBe(true);

    const shown = await govx('kafka', 'credentials', 'show', '--department', DEPARTMENT);
    expect(shown.out).toContain(`${DEPARTMENT}: active`);
    expect(shown.out).not.toContain(issued.password);

    const revoked = await govx('kafka', 'credentials', 'revoke', '--department', DEPARTMENT);
    expect(revoked.out).toContain(`revoked Kafka credentials of ${DEPARTMENT}`);
    expect(await authenticates(issued.password)).toBe(false);
  });

  it('leave every issue, rotation and revocation on the audit trail, and no password anywhere in govx', async () => {
    const creates = await auditOf('kafka.credentials.create');
    expect(creates.map((e) => [e.actor_department, e.actor_role, e.details.via])).toEqual([
      [DEPARTMENT, 'steward', 'api'],
      ['govx', 'operator', 'cli'],
    ]);
    expect((await auditOf('kafka.credentials.rotate')).length).toBe(1);
    expect((await auditOf('kafka.credentials.revoke')).map((e) => e.details.via)).toEqual(['api', 'cli']);

    const { rows } = await stack.pool.query(
      `SELECT (SELECT json_agg(k) FROM kafka_credentials k)::text AS credentials,
              (SELECT json_agg(a) FROM audit_log a WHERE target = $1)::text AS audit`,
      [`kafka-principal:User:dept.${DEPARTMENT}`],
    );
    for (const password of passwords) {
      expect(rows[0].credentials).not.toContain(password);
      expect(rows[0].audit).not.toContain(password);
    }
  });
});
