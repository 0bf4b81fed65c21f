import { type Response, Router } from 'express';
import {
  createKafkaCredentials,
  getKafkaCredentials,
  type KafkaCredentialsDeps,
  revokeKafkaCredentials,
  rotateKafkaCredentials,
} from '../catalog/kafkaCredentials';
import type { KeyManager } from '../catalog/keyService';
import { principalOf } from './middleware/auth';

const managerOf = (res: Response): KeyManager => ({ kind: 'key', principal: principalOf(res) });

/** A department's Kafka credentials: its stewards and administrators; the password is shown once and never stored. */
export function kafkaCredentialRouter(deps: KafkaCredentialsDeps): Router {
  const router = Router();
  const rid = (res: Response): string => String(res.locals.requestId);
  const path = '/v1/departments/:department/kafka-credentials';

  router.get(path, async (req, res) => {
    res.json(await getKafkaCredentials(deps, managerOf(res), String(req.params.department)));
  });

  router.post(path, async (req, res) => {
    const issued = await createKafkaCredentials(deps, managerOf(res), String(req.params.department), rid(res));
    res.status(201).setHeader('Cache-Control', 'no-store').json(issued);
  });

  router.post(`${path}/rotate`, async (req, res) => {
    const issued = await rotateKafkaCredentials(deps, managerOf(res), String(req.params.department), rid(res));
    res.setHeader('Cache-Control', 'no-store').json(issued);
  });

  router.delete(path, async (req, res) => {
    res.json(await revokeKafkaCredentials(deps, managerOf(res), String(req.params.department), rid(res)));
  });

  return router;
}
