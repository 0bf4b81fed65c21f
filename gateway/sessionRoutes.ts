import { type Request, type Response, Router } from 'express';
import { generators, Issuer, type Client } from 'openid-client';
import { appendAudit, type AuditActor } from '../catalog/audit';
import { authenticateKey, getDepartment, isRole, type Principal, type Role } from '../catalog/keys';
import { type ConsoleSession, createSession, deleteSession, pruneSessions, saveLoginFlow, takeLoginFlow } from '../catalog/sessions';
import type { GovxConfig } from '../lib/config';
import type { Pool } from '../lib/db';
import { GovxError, InputError, NotFoundError, UnauthenticatedError, errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { cookiesOf, principalOf, SESSION_COOKIE, sessionOf } from './middleware/auth';
import { jsonBody } from './middleware/textHygiene';

/**
 * Console sign-in and sign-out (docs/decisions/0009-console.md): OpenID Connect (authorization code with
 * PKCE, state and nonce, through openid-client) with the ID token's claims mapped to a department and role by
 * configuration, and, for development, sign-in with an API key. Either way the browser gets only an opaque
 * session id in an HttpOnly, SameSite=Lax cookie (Secure over https); the CSRF token for state-changing
 * requests comes from GET /v1/me.
 */

export interface SessionRouteDeps {
  pool: Pool;
  config: GovxConfig;
  log: Logger;
}

const FLOW_COOKIE = 'govx_oidc_flow';
const FLOW_PATH = '/v1/session/oidc';
const RETURN_TO = /^\/console(?:\/[A-Za-z0-9/_.~-]*)?(?:\?[A-Za-z0-9_.~=&%-]*)?$/;

function isSecure(req: Request, config: GovxConfig): boolean {
  return config.publicUrl ? config.publicUrl.startsWith('https:') : req.secure;
}

function cookie(name: string, value: string, opts: { path: string; maxAgeSeconds: number; secure: boolean }): string {
  return [`${name}=${value}`, `Path=${opts.path}`, `Max-Age=${opts.maxAgeSeconds}`, 'HttpOnly', 'SameSite=Lax', ...(opts.secure ? ['Secure'] : [])].join('; ');
}

function baseUrl(req: Request, config: GovxConfig): string {
  return config.publicUrl ?? `${req.protocol}://${req.get('host')}`;
}

/** The signed-in caller as the console shows it. */
export async function describeCaller(pool: Pool, config: GovxConfig, principal: Principal, session: ConsoleSession | undefined) {
  const department = await getDepartment(pool, principal.department);
  return {
    connect: { kafkaBootstrap: config.kafkaBrokers.join(','), registryPath: '/registry' },
    department: department ?? { id: principal.department, nameZh: principal.department, nameEn: principal.department, kind: 'municipal-bureau', clearance: 1 },
    role: principal.role,
    actor: principal.keyId,
    session: session
      ? { method: session.method, subject: session.subject, displayName: session.displayName, expiresAt: session.expiresAt, csrfToken: session.csrfToken }
      : null,
  };
}

interface MappedUser {
  department: string;
  role: Role;
  subject: string;
  displayName: string | null;
}

/** Maps ID-token (and userinfo) claims to a department and role; a user who maps to neither may not sign in. */
export async function mapClaims(pool: Pool, config: GovxConfig, claims: Record<string, unknown>): Promise<MappedUser> {
  const values = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter((x): x is string => typeof x === 'string');
  const deptValue = values(claims[config.oidcDepartmentClaim])[0];
  const department = deptValue === undefined ? undefined : (config.oidcDepartmentMap[deptValue] ?? deptValue);
  if (!department || !(await getDepartment(pool, department))) {
    throw new GovxError(403, 'session.unmapped_department', `the sign-in's ${config.oidcDepartmentClaim} claim names no govx department`);
  }
  const role = values(claims[config.oidcRoleClaim])
    .map((v) => config.oidcRoleMap[v] ?? v)
    .find((v): v is Role => isRole(v));
  if (!role) throw new GovxError(403, 'session.unmapped_role', `the sign-in's ${config.oidcRoleClaim} claim names no govx role`);
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  if (!subject) throw new GovxError(403, 'session.no_subject', 'the ID token has no subject');
  const name = [claims.name, claims.preferred_username, claims.email].find((v): v is string => typeof v === 'string' && v.length > 0) ?? null;
  return { department, role, subject: `oidc:${subject}`.slice(0, 300), displayName: name?.slice(0, 200) ?? null };
}

const actorOf = (p: Principal): AuditActor => ({ department: p.department, keyId: p.keyId, role: p.role });

/** Discovers the provider once (again after a failure, so a provider that was down at start-up is picked up). */
class OidcClient {
  private client: Promise<Client> | null = null;

  constructor(private readonly config: GovxConfig) {}

  get enabled(): boolean {
    return this.config.oidcIssuer !== undefined;
  }

  get(): Promise<Client> {
    if (!this.client) {
      this.client = Issuer.discover(this.config.oidcIssuer!).then((issuer) => {
        const secret = this.config.oidcClientSecret;
        return new issuer.Client({
          client_id: this.config.oidcClientId!,
          ...(secret ? { client_secret: secret } : {}),
          response_types: ['code'],
          token_endpoint_auth_method: secret ? 'client_secret_basic' : 'none',
        });
      });
      this.client.catch(() => {
        this.client = null;
      });
    }
    return this.client;
  }
}

/** Sign-in routes that need no credentials: the sign-in options, API-key sign-in, and the OpenID Connect redirects. */
export function publicSessionRouter(deps: SessionRouteDeps): Router {
  const router = Router();
  const oidc = new OidcClient(deps.config);
  const json = jsonBody({ limit: '4kb' });
  let pruned = 0;
  const pruneNowAndThen = (): void => {
    if (Date.now() - pruned < 60_000) return;
    pruned = Date.now();
    void pruneSessions(deps.pool).catch(() => undefined);
  };

  const open = async (req: Request, res: Response, user: MappedUser & { method: 'api-key' | 'oidc'; keyId?: string }): Promise<ConsoleSession> => {
    const { id, session } = await createSession(deps.pool, { ...user, ttlMinutes: deps.config.sessionTtlMinutes });
    res.append('Set-Cookie', cookie(SESSION_COOKIE, id, { path: '/', maxAgeSeconds: deps.config.sessionTtlMinutes * 60, secure: isSecure(req, deps.config) }));
    await appendAudit(deps.pool, {
      actor: actorOf(session.principal),
      action: 'session.signin',
      target: `department:${user.department}`,
      outcome: 'success',
      requestId: String(res.locals.requestId),
      details: { method: user.method, subject: user.subject },
    });
    pruneNowAndThen();
    return session;
  };

  router.get('/v1/session/options', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store').json({ oidc: oidc.enabled, apiKey: deps.config.consoleKeySignIn });
  });

  router.post('/v1/session', json, async (req, res) => {
    if (!deps.config.consoleKeySignIn) throw new NotFoundError('session.key_signin_disabled', 'sign-in with an API key is turned off here; use single sign-on');
    const body = req.body as unknown;
    const key = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).key : undefined;
    if (typeof key !== 'string' || key.length === 0 || key.length > 200 || Object.keys(body as object).length !== 1) {
      throw new InputError('session.invalid_request', 'the body must be {"key": "<API key>"}');
    }
    const check = await authenticateKey(deps.pool, key);
    if (!check) throw new UnauthenticatedError('the API key is not valid', 'auth.invalid_key');
    const p = check.principal;
    const session = await open(req, res, { department: p.department, role: p.role, subject: `key:${p.keyId}`, displayName: null, method: 'api-key', keyId: p.keyId });
    res.status(201).setHeader('Cache-Control', 'no-store').json(await describeCaller(deps.pool, deps.config, session.principal, session));
  });

  router.get('/v1/session/oidc', async (req, res) => {
    if (!oidc.enabled) throw new NotFoundError('session.oidc_disabled', 'single sign-on is not configured here (GOVX_OIDC_ISSUER)');
    const returnTo = typeof req.query.returnTo === 'string' && RETURN_TO.test(req.query.returnTo) ? req.query.returnTo : '/console/';
    let client: Client;
    try {
      client = await oidc.get();
    } catch (err) {
      throw new GovxError(503, 'session.oidc_unavailable', `the OpenID provider cannot be reached: ${errorMessage(err)}`, { headers: { 'Retry-After': '5' } });
    }
    const state = generators.state();
    const nonce = generators.nonce();
    const codeVerifier = generators.codeVerifier();
    await saveLoginFlow(deps.pool, { state, nonce, codeVerifier, returnTo });
    const url = client.authorizationUrl({
      redirect_uri: `${baseUrl(req, deps.config)}/v1/session/oidc/callback`,
      scope: deps.config.oidcScopes,
      state,
      nonce,
      code_challenge: generators.codeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    // The flow is bound to this browser: a callback arriving in another browser (login CSRF) finds no cookie.
    res.append('Set-Cookie', cookie(FLOW_COOKIE, state, { path: FLOW_PATH, maxAgeSeconds: 600, secure: isSecure(req, deps.config) }));
    res.setHeader('Cache-Control', 'no-store').redirect(302, url);
  });

  router.get('/v1/session/oidc/callback', async (req, res) => {
    const fail = (code: string): void => {
      res.append('Set-Cookie', cookie(FLOW_COOKIE, '', { path: FLOW_PATH, maxAgeSeconds: 0, secure: isSecure(req, deps.config) }));
      res.setHeader('Cache-Control', 'no-store').redirect(302, `/console/signin?error=${encodeURIComponent(code)}`);
    };
    if (!oidc.enabled) throw new NotFoundError('session.oidc_disabled', 'single sign-on is not configured here (GOVX_OIDC_ISSUER)');
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const bound = cookiesOf(req)[FLOW_COOKIE];
    if (!state || bound !== state) return fail('session.flow_mismatch');
    const flow = await takeLoginFlow(deps.pool, state);
    if (!flow) return fail('session.flow_expired');
    if (typeof req.query.error === 'string') return fail('session.provider_refused');
    try {
      const client = await oidc.get();
      const redirectUri = `${baseUrl(req, deps.config)}/v1/session/oidc/callback`;
      const tokens = await client.callback(redirectUri, client.callbackParams(req), { state: flow.state, nonce: flow.nonce, code_verifier: flow.codeVerifier });
      let claims: Record<string, unknown> = { ...tokens.claims() };
      const missing = [deps.config.oidcDepartmentClaim, deps.config.oidcRoleClaim].some((c) => claims[c] === undefined);
      if (missing && tokens.access_token) claims = { ...(await client.userinfo(tokens.access_token)), ...claims };
      const user = await mapClaims(deps.pool, deps.config, claims);
      await open(req, res, { ...user, method: 'oidc' });
      res.append('Set-Cookie', cookie(FLOW_COOKIE, '', { path: FLOW_PATH, maxAgeSeconds: 0, secure: isSecure(req, deps.config) }));
      res.setHeader('Cache-Control', 'no-store').redirect(302, flow.returnTo);
    } catch (err) {
      const code = err instanceof GovxError ? err.code : 'session.oidc_failed';
      deps.log.warn({ code, err: errorMessage(err), requestId: res.locals.requestId }, 'console sign-in failed');
      fail(code);
    }
  });

  return router;
}

/** Who am I, and sign-out: behind authentication. */
export function sessionRouter(deps: SessionRouteDeps): Router {
  const router = Router();

  router.get('/v1/me', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store').json(await describeCaller(deps.pool, deps.config, principalOf(res), sessionOf(res)));
  });

  router.delete('/v1/session', async (req, res) => {
    const session = sessionOf(res);
    const id = cookiesOf(req)[SESSION_COOKIE];
    if (session && id && (await deleteSession(deps.pool, id))) {
      await appendAudit(deps.pool, {
        actor: actorOf(session.principal),
        action: 'session.signout',
        target: `department:${session.principal.department}`,
        outcome: 'success',
        requestId: String(res.locals.requestId),
        details: { method: session.method, subject: session.subject },
      });
    }
    res.append('Set-Cookie', cookie(SESSION_COOKIE, '', { path: '/', maxAgeSeconds: 0, secure: isSecure(req, deps.config) }));
    res.status(204).end();
  });

  return router;
}
