import { type Response, Router } from 'express';
import { appendAudit } from '../catalog/audit';
import { getDepartment, listDepartments } from '../catalog/keys';
import { withTransaction, type Pool } from '../lib/db';
import { ForbiddenError, InputError, NotFoundError } from '../lib/errors';
import { principalOf } from './middleware/auth';
import { markDenied } from './middleware/denials';
import { jsonBody } from './middleware/textHygiene';

/**
 * Departments: every key may list them (names and clearances are what the catalog and the sharing policy
 * speak of); administrators set a department's clearance, the highest sensitivity it receives in clear.
 */
export function departmentRouter(deps: { pool: Pool }): Router {
  const router = Router();
  const json = jsonBody({ limit: '4kb' });
  const rid = (res: Response): string => String(res.locals.requestId);

  router.get('/v1/departments', async (_req, res) => {
    res.json({ items: await listDepartments(deps.pool) });
  });

  router.patch('/v1/departments/:department', json, async (req, res) => {
    const principal = principalOf(res);
    const id = String(req.params.department);
    if (principal.role !== 'admin') {
      markDenied(res, 'department.update', `department:${id.slice(0, 64)}`);
      throw new ForbiddenError('only administrators change a department');
    }
    const body = req.body as Record<string, unknown> | null;
    if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).some((k) => k !== 'clearance')) {
      throw new InputError('request.invalid_body', 'the body must be {"clearance": 1-4}');
    }
    const clearance = body.clearance;
    if (typeof clearance !== 'number' || !Number.isInteger(clearance) || clearance < 1 || clearance > 4) {
      throw new InputError('department.invalid_clearance', 'clearance must be a whole number from 1 to 4');
    }
    const updated = await withTransaction(deps.pool, async (tx) => {
      const before = await getDepartment(tx, id);
      if (!before) throw new NotFoundError('department.not_found', `no department "${id.slice(0, 64)}"`);
      await tx.query('UPDATE departments SET clearance = $2 WHERE id = $1', [id, clearance]);
      await appendAudit(tx, {
        actor: { department: principal.department, keyId: principal.keyId, role: principal.role },
        action: 'department.clearance',
        target: `department:${id}`,
        outcome: 'success',
        requestId: rid(res),
        details: { from: before.clearance, to: clearance },
      });
      return { ...before, clearance };
    });
    res.json(updated);
  });

  return router;
}
