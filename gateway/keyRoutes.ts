import { type Request, type Response, Router } from 'express';
import { type KeyManager, issueKey, listKeys, revokeKey, rotateKey } from '../catalog/keyService';
import { isRole, MAX_KEY_LABEL, roles } from '../catalog/keys';
import type { Pool } from '../lib/db';
import { InputError } from '../lib/errors';
import { principalOf } from './middleware/auth';
import { jsonBody } from './middleware/textHygiene';

const managerOf = (res: Response): KeyManager => ({ kind: 'key', principal: principalOf(res) });

function issueRequest(req: Request): { department: string; role: string; label: string | null } {
  const body = req.body as unknown;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InputError('request.invalid_body', 'the body must be a JSON object {"department", "role", "label"?}');
  const { department, role, label, ...extra } = body as Record<string, unknown>;
  if (Object.keys(extra).length) throw new InputError('request.invalid_body', `unknown member(s): ${Object.keys(extra).join(', ')}`);
  if (typeof department !== 'string' || department === '' || department.length > 64) throw new InputError('key.invalid_department', 'department must be a department id');
  if (typeof role !== 'string' || !isRole(role)) throw new InputError('key.invalid_role', `role must be one of ${roles.join(', ')}`);
  if (label !== undefined && label !== null && (typeof label !== 'string' || label.length > MAX_KEY_LABEL)) {
    throw new InputError('key.invalid_label', `label must be a string of at most ${MAX_KEY_LABEL} characters`);
  }
  return { department, role, label: (label as string | null | undefined) ?? null };
}

/** API keys: administrators manage all; a department's stewards its own (never admin keys). Secrets are shown once. */
export function keyRouter(deps: { pool: Pool }): Router {
  const router = Router();
  const json = jsonBody({ limit: '16kb' });
  const rid = (res: Response): string => String(res.locals.requestId);

  router.get('/v1/keys', async (req, res) => {
    const department = req.query.department;
    if (department !== undefined && (typeof department !== 'string' || department.length > 64)) {
      throw new InputError('request.invalid_query', 'query parameter department must be one department id');
    }
    res.json({ items: await listKeys(deps.pool, managerOf(res), { department }) });
  });

  router.post('/v1/keys', json, async (req, res) => {
    const created = await issueKey(deps.pool, managerOf(res), issueRequest(req), rid(res));
    res.status(201).setHeader('Cache-Control', 'no-store').json(created);
  });

  router.post('/v1/keys/:id/revoke', async (req, res) => {
    res.json(await revokeKey(deps.pool, managerOf(res), String(req.params.id), rid(res)));
  });

  router.post('/v1/keys/:id/rotate', async (req, res) => {
    const created = await rotateKey(deps.pool, managerOf(res), String(req.params.id), rid(res));
    res.status(201).setHeader('Cache-Control', 'no-store').json(created);
  });

  return router;
}
