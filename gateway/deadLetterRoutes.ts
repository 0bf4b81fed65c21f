import { Router } from 'express';
import { appendAudit } from '../catalog/audit';
import { getDataset } from '../catalog/datasets';
import type { Pool } from '../lib/db';
import { InputError, NotFoundError } from '../lib/errors';
import { type KafkaPort, readKafkaForAnswer } from '../lib/kafkaPort';
import { readDeadLetters } from '../publish/deadLetterReader';
import { decodeCursor, encodeCursor } from './httpDelivery';
import { principalOf } from './middleware/auth';
import { markDenied } from './middleware/denials';

export interface DeadLetterRouteDeps {
  pool: Pool;
  kafka: KafkaPort;
  /** longest one page may take to read from Kafka */
  readTimeoutMs?: number;
}

/**
 * GET /v1/datasets/{id}/dead-letters: the records the publish path and source connectors rejected, newest
 * first, for the owner's stewards and administrators; to anyone else the dataset's dead letters do not exist
 * (404, counted as a denial). Every page that shows records is audited (`dataset.dead_letters.read`), since
 * rejection reasons, and with `payload=true` the records themselves, are the department's data.
 */
export function deadLetterRouter(deps: DeadLetterRouteDeps): Router {
  const router = Router();

  router.get('/v1/datasets/:id/dead-letters', async (req, res) => {
    const principal = principalOf(res);
    const id = String(req.params.id);
    const dataset = await getDataset(deps.pool, id);
    const mayRead = dataset !== null && (principal.role === 'admin' || (principal.role === 'steward' && principal.department === dataset.owner));
    if (!mayRead) {
      if (dataset) markDenied(res, 'dataset.dead_letters.read', `dataset:${dataset.id}`);
      throw new NotFoundError('dataset.not_found', `no dataset "${id.slice(0, 100)}" whose dead letters this key may read`);
    }
    const limitText = req.query.limit ?? '20';
    if (typeof limitText !== 'string' || !/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 100) {
      throw new InputError('request.invalid_query', 'query parameter limit must be a whole number between 1 and 100');
    }
    const payloadText = req.query.payload ?? 'false';
    if (payloadText !== 'true' && payloadText !== 'false') throw new InputError('request.invalid_query', 'query parameter payload must be true or false');
    const before = req.query.before;
    if (before !== undefined && typeof before !== 'string') throw new InputError('dead_letters.invalid_cursor', 'pass one cursor');
    const from = before === undefined ? null : decodeCursor(before, 'dead_letters.invalid_cursor');
    const timeoutMs = deps.readTimeoutMs ?? 15_000;
    // the reader's own deadline answers dead_letters.unavailable; this one covers Kafka not answering at all
    const page = await readKafkaForAnswer('reading dead letters', timeoutMs + 5000, () =>
      readDeadLetters(deps.kafka, dataset.id, { limit: Number(limitText), before: from, payload: payloadText === 'true', timeoutMs }),
    );
    if (page.items.length > 0) {
      await appendAudit(deps.pool, {
        actor: { department: principal.department, keyId: principal.keyId, role: principal.role },
        action: 'dataset.dead_letters.read',
        target: `dataset:${dataset.id}`,
        outcome: 'success',
        requestId: String(res.locals.requestId),
        details: {
          topic: page.topic,
          count: page.items.length,
          payload: payloadText === 'true',
          offsets: page.items.map((i) => `${i.partition}:${i.offset}`).slice(0, 100),
        },
      });
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json({ dataset: dataset.id, topic: page.topic, items: page.items, next: page.next ? encodeCursor(page.next) : null });
  });

  return router;
}
