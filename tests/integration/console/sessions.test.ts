import { inOneYear } from '../../support/fixtures';
import { freePort, oidcEnv, startTestProvider, type TestProvider } from '../../support/oidc';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * Console sessions against a real OpenID provider (oidc-provider, started here): the authorization code flow
 * with PKCE end to end, claims mapped to department and role, login CSRF refused, the session cookie's
 * attributes, CSRF on state-changing requests, sign-out, and a key sign-in that dies with its key. Then the
 * preview a consumer and a steward see, checked against what approval really grants.
 */

let stack: TestStack;
let provider: TestProvider;

/** Cookies by name, from the Set-Cookie headers of one answer. */
function setCookies(res: Response | { headers: Headers }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    out[pair!.slice(0, eq)] = line;
  }
  return out;
}
const cookieValue = (line: string): string => line.split(';')[0]!.split('=').slice(1).join('=');

class Jar {
  private readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const [name, line] of Object.entries(setCookies(res))) {
      const value = cookieValue(line);
      if (value === '' || /Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function get(url: string, jar: Jar, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header() } });
  jar.take(res);
  return res;
}

/** Signs `login` in through the provider as a browser would; returns the gateway's last answer and the jars. */
async function signInThroughProvider(login: string, opts: { dropFlowCookie?: boolean } = {}) {
  const gatewayJar = new Jar();
  const providerJar = new Jar();
  const start = await get(`${stack.url}/v1/session/oidc?returnTo=/console/approvals`, gatewayJar);
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.get('location')!);
  let res = await get(authorize.toString(), providerJar);
  for (let hop = 0; hop < 10 && res.status >= 300 && res.status < 400; hop++) {
    const next = new URL(res.headers.get('location')!, authorize);
    if (next.origin === new URL(stack.url).origin) break;
    res = await get(next.toString(), providerJar);
  }
  // the provider's sign-in page
  const form = await res.text();
  const action = /action="([^"]+)"/.exec(form)![1]!;
  res = await get(new URL(action, authorize).toString(), providerJar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login }).toString(),
  });
  let location = new URL(res.headers.get('location')!, authorize);
  while (location.origin === authorize.origin) {
    res = await get(location.toString(), providerJar);
    location = new URL(res.headers.get('location')!, authorize);
  }
  if (opts.dropFlowCookie) gatewayJar.take(new Response(null, { headers: { 'set-cookie': 'govx_oidc_flow=; Max-Age=0' } }));
  const back = await get(location.toString(), gatewayJar);
  return { authorize, back, gatewayJar };
}

beforeAll(async () => {
  const [gatewayPort, providerPort] = [await freePort(), await freePort()];
  const callback = `http://127.0.0.1:${gatewayPort}/v1/session/oidc/callback`;
  const issuer = { issuer: `http://127.0.0.1:${providerPort}`, clientId: 'govx-console', clientSecret: 'govx-console-test-secret-0123456789abcdef' };
  stack = await startTestStack({ GOVX_PORT: String(gatewayPort), ...oidcEnv(issuer) });
  provider = await startTestProvider(providerPort, [callback]);
});

afterAll(async () => {
  await provider?.stop();
  await stack?.close();
});

describe('single sign-on', () => {
  it('signs a steward in with the authorization code flow and PKCE, mapping claims to department and role', async () => {
    const { authorize, back, gatewayJar } = await signInThroughProvider('wang.steward');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe('/console/approvals');
    const session = setCookies(back).govx_session!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);
    expect(session).toMatch(/Path=\//);
    const me = await httpJson(`${stack.url}/v1/me`, { headers: { cookie: gatewayJar.header() } });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ department: { id: 'psb', nameZh: '市公安局' }, role: 'steward', actor: 'user:wang.steward' });
    expect(me.body.session).toMatchObject({ method: 'oidc', subject: 'oidc:wang.steward', displayName: '王管理' });

    // the session acts as a psb steward: it sees psb's keys and none of another department's
    const keys = await httpJson(`${stack.url}/v1/keys`, { headers: { cookie: gatewayJar.header() } });
    expect(keys.status).toBe(200);
    expect(keys.body.items.every((k: { department: string }) => k.department === 'psb')).toBe(true);

    // signing in is on the audit trail, under the user's name
    const { rows } = await stack.pool.query(`SELECT actor_key_id, details FROM audit_log WHERE action = 'session.signin' AND actor_key_id = 'user:wang.steward'`);
    expect(rows.length).toBeGreaterThan(0);
  });

  it('refuses a callback that arrives in a browser which did not start the sign-in (login CSRF)', async () => {
    const { back } = await signInThroughProvider('li.consumer', { dropFlowCookie: true });
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe('/console/signin?error=session.flow_mismatch');
    expect(setCookies(back).govx_session).toBeUndefined();
  });

  it('refuses users whose claims map to no department or no role', async () => {
    const outsider = await signInThroughProvider('sun.outsider');
    expect(outsider.back.headers.get('location')).toBe('/console/signin?error=session.unmapped_department');
    expect(setCookies(outsider.back).govx_session).toBeUndefined();
    const noRole = await signInThroughProvider('zhou.norole');
    expect(noRole.back.headers.get('location')).toBe('/console/signin?error=session.unmapped_role');
  });

  it('does not redirect anywhere but the console after sign-in', async () => {
    const res = await fetch(`${stack.url}/v1/session/oidc?returnTo=https://evil.example/steal`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const state = new URL(res.headers.get('location')!).searchParams.get('state')!;
    const { rows } = await stack.pool.query('SELECT return_to FROM console_login_flows WHERE state = $1', [state]);
    expect(rows[0].return_to).toBe('/console/');
  });

  it('offers both sign-ins when single sign-on is configured', async () => {
    const options = await httpJson(`${stack.url}/v1/session/options`);
    expect(options.body).toEqual({ oidc: true, apiKey: true });
  });
});

describe('sessions', () => {
  async function keySignIn(key: string): Promise<{ cookie: string; csrf: string }> {
    const res = await fetch(`${stack.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { session: { csrfToken: string } };
    return { cookie: `govx_session=${cookieValue(setCookies(res).govx_session!)}`, csrf: body.session.csrfToken };
  }

  it('needs the CSRF token for changes, ends at sign-out, and dies with the key it was opened with', async () => {
    const key = await stack.key('psb', 'steward');
    const { cookie, csrf } = await keySignIn(key);
    const me = await httpJson(`${stack.url}/v1/me`, { headers: { cookie } });
    expect(me.body).toMatchObject({ department: { id: 'psb' }, role: 'steward', session: { method: 'api-key' } });

    const withoutToken = await httpJson(`${stack.url}/v1/keys`, { headers: { cookie }, body: { department: 'psb', role: 'publisher' } });
    expect(withoutToken.status).toBe(403);
    expect(withoutToken.body.error.code).toBe('auth.csrf');
    const wrongToken = await httpJson(`${stack.url}/v1/keys`, { headers: { cookie, 'x-csrf-token': `${csrf.slice(0, -2)}xx` }, body: { department: 'psb', role: 'publisher' } });
    expect(wrongToken.status).toBe(403);
    const withToken = await httpJson(`${stack.url}/v1/keys`, { headers: { cookie, 'x-csrf-token': csrf }, body: { department: 'psb', role: 'publisher', label: '控制台' } });
    expect(withToken.status).toBe(201);

    // a copied cookie stops working once the user signs out
    const out = await fetch(`${stack.url}/v1/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    expect(setCookies(out).govx_session).toMatch(/Max-Age=0/);
    expect((await httpJson(`${stack.url}/v1/me`, { headers: { cookie } })).body.error.code).toBe('auth.session_expired');

    // revoking the key ends the sessions opened with it
    const again = await keySignIn(key);
    expect((await httpJson(`${stack.url}/v1/me`, { headers: { cookie: again.cookie } })).status).toBe(200);
    const admin = await stack.key('info-office', 'admin');
    expect((await httpJson(`${stack.url}/v1/keys/${key.split('_')[1]}/revoke`, { key: admin, body: {} })).status).toBe(200);
    expect((await httpJson(`${stack.url}/v1/me`, { headers: { cookie: again.cookie } })).status).toBe(401);
  });

  it('refuses a wrong key and a forged session cookie', async () => {
    const wrong = await httpJson(`${stack.url}/v1/session`, { body: { key: 'govx_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('auth.invalid_key');
    const forged = await httpJson(`${stack.url}/v1/me`, { headers: { cookie: 'govx_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(forged.status).toBe(401);
    const none = await httpJson(`${stack.url}/v1/me`);
    expect(none.status).toBe(401);
  });
});

describe('preview', () => {
  it("shows a consumer synthetic records masked as its clearance allows, with a derived schema that lacks what it did not ask for", async () => {
    const ca = await stack.key('civil-affairs', 'consumer');
    const res = await httpJson(`${stack.url}/v1/subscriptions/preview`, {
      key: ca,
      body: { dataset: 'population.residents', fields: ['id_number', 'name', 'birth_date', 'household_district'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.fields).toEqual([
      // civil affairs may receive the birth date: the ID number keeps only its region (decision 0016)
      { name: 'id_number', delivery: 'partial', partial: { identifier: 'cn-id-number', keep: ['region'] } },
      { name: 'name', delivery: 'partial' },
      { name: 'birth_date', delivery: 'clear' },
      { name: 'household_district', delivery: 'clear' },
    ]);
    expect(res.body.schema.fields.map((f: { name: string }) => f.name)).toEqual(['id_number', 'name', 'birth_date', 'household_district']);
    expect(res.body.records).toHaveLength(3);
    for (const r of res.body.records) {
      expect(Object.keys(r).sort()).toEqual(['birth_date', 'household_district', 'id_number', 'name']);
      expect(r.id_number).toMatch(/^\d{6}\*{12}$/);
      expect(r.name).toContain('*');
      expect(r.birth_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it("shows a steward what a tighter mask would deliver, and approval then grants exactly that", async () => {
    const ca = await stack.key('civil-affairs', 'consumer');
    const steward = await stack.key('psb', 'steward');
    const sub = await httpJson(`${stack.url}/v1/subscriptions`, {
      key: ca,
      body: { dataset: 'population.residents', fields: ['name', 'birth_date', 'household_district'], purpose: '高龄津贴发放', expiresAt: inOneYear() },
    });
    expect(sub.body.status).toBe('pending');
    const decision = { fields: ['name', 'birth_date'], masking: { birth_date: 'hash' } };
    const preview = await httpJson(`${stack.url}/v1/subscriptions/${sub.body.id}/preview`, { key: steward, body: decision });
    expect(preview.status).toBe(200);
    expect(preview.body.fields.map((f: { name: string; delivery: string }) => [f.name, f.delivery])).toEqual([
      ['name', 'partial'],
      ['birth_date', 'hash'],
    ]);
    expect(preview.body.records[0].birth_date).toMatch(/^[0-9a-f]{32}$/);
    expect(preview.body.records[0]).not.toHaveProperty('household_district');

    // another department's steward cannot even see the request
    const other = await stack.key('amr', 'steward');
    expect((await httpJson(`${stack.url}/v1/subscriptions/${sub.body.id}/preview`, { key: other, body: decision })).status).toBe(404);

    const approved = await httpJson(`${stack.url}/v1/subscriptions/${sub.body.id}/approve`, { key: steward, body: decision });
    expect(approved.status).toBe(200);
    expect(approved.body.fields).toEqual(preview.body.fields);

    // what has been delivered comes from the receipts; nothing yet, and nothing to see for another department
    const deliveries = await httpJson(`${stack.url}/v1/subscriptions/${sub.body.id}/deliveries`, { key: steward });
    expect(deliveries.status).toBe(200);
    expect(deliveries.body).toMatchObject({ subscription: sub.body.id, lastDeliveryAt: null });
    expect((await httpJson(`${stack.url}/v1/subscriptions/${sub.body.id}/deliveries`, { key: other })).status).toBe(404);
  });
});

describe('the console itself', () => {
  it('is served at /console with a strict content security policy', async () => {
    const redirect = await fetch(`${stack.url}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const page = await fetch(`${stack.url}/console/catalog/population.residents`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).toContain('<div id="root">');
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${stack.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
  });
});
