import { Router } from 'express';
import { listAudit } from '../catalog/audit';
import { type AuditCheckpointer, type CheckpointStore, verifyAuditTrail } from '../catalog/auditCheckpoints';
import type { Pool } from '../lib/db';
import { errorMessage, InputError, UnavailableError } from '../lib/errors';
import type { Keyring } from '../lib/keyring';
import { requireRole } from './middleware/auth';

function optional(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 200) throw new InputError('request.invalid_query', `query parameter ${name} must be one short string`);
  return value;
}

function optionalDate(value: unknown, name: string): Date | undefined {
  const text = optional(value, name);
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new InputError('request.invalid_query', `query parameter ${name} must be an ISO 8601 date or timestamp`);
  return d;
}

function optionalInt(value: unknown, name: string, min: number, max: number): number | undefined {
  const text = optional(value, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new InputError('request.invalid_query', `query parameter ${name} must be a whole number between ${min} and ${max}`);
  }
  return Number(text);
}

/** What verification and checkpoints need: the keys outside the database and where checkpoints are kept. */
export interface AuditEvidence {
  keyring: Keyring;
  stores: CheckpointStore[];
  checkpointer: AuditCheckpointer;
}

/** The audit trail, for administrators. */
export function auditRouter(deps: { pool: Pool; evidence: AuditEvidence }): Router {
  const router = Router();
  router.get('/v1/audit', requireRole('admin'), async (req, res) => {
    const result = await listAudit(deps.pool, {
      from: optionalDate(req.query.from, 'from'),
      to: optionalDate(req.query.to, 'to'),
      department: optional(req.query.department, 'department'),
      action: optional(req.query.action, 'action'),
      target: optional(req.query.target, 'target'),
      outcome: optional(req.query.outcome, 'outcome'),
      limit: optionalInt(req.query.limit, 'limit', 1, 1000),
      afterSeq: optionalInt(req.query.cursor, 'cursor', 0, Number.MAX_SAFE_INTEGER),
      order: req.query.order === 'desc' ? 'desc' : 'asc',
    });
    res.json({ items: result.entries, nextCursor: result.nextCursor === null ? null : String(result.nextCursor) });
  });
  router.get('/v1/audit/verify', requireRole('admin'), async (_req, res) => {
    res.json(await verifyAuditTrail(deps.pool, { keyring: deps.evidence.keyring, stores: deps.evidence.stores }));
  });
  router.post('/v1/audit/checkpoints', requireRole('admin'), async (_req, res) => {
    let checkpoint;
    try {
      checkpoint = await deps.evidence.checkpointer.now();
    } catch (err) {
      throw new UnavailableError('audit.checkpoint_failed', `no checkpoint was written: ${errorMessage(err)}`, 5, err);
    }
    if (!checkpoint) res.status(204).end();
    else res.status(201).json(checkpoint);
  });
  return router;
}
