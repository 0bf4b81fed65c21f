import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { generateSample } from '../../../schemas/samples';
import { httpJson, readTopicUntil, startTestStack, testKafka, type TestStack } from '../../support/stack';

/**
 * A broker of this test's own, on its own port, that it stops and starts: the shared broker on 9092 is
 * never touched. services.sh secures it like the shared one (same development CA and govx credentials). The gateway must answer 503 with Retry-After while it is down and recover by itself.
 */
const root = path.resolve(__dirname, '../../..');
const DATASET = 'population.residents';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freeBrokerPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 4000);
    if ((await portIsFree(port)) && (await portIsFree(port + 1))) return port;
  }
  throw new Error('no free pair of ports for a test broker');
}

let port: number;
let stack: TestStack | undefined;
const services = (action: 'up' | 'down') =>
  execFileSync('bash', [path.join(root, 'scripts/services.sh'), action], {
    env: { ...process.env, KAFKA_BROKERS: `127.0.0.1:${port}` },
    stdio: 'pipe',
  });

beforeAll(async () => {
  port = await freeBrokerPort();
  services('up');
  stack = await startTestStack({ KAFKA_BROKERS: `127.0.0.1:${port}`, GOVX_KAFKA_TIMEOUT_MS: '4000' });
}, 180_000);

afterAll(async () => {
  await stack?.close();
  if (port) {
    services('down');
    fs.rmSync(path.join(root, '.cache/kafka', `broker-${port}`), { recursive: true, force: true });
  }
}, 120_000);

it('answers 503 with Retry-After while Kafka is down, recovers when it returns, and keeps every acknowledged record', async () => {
  const s = stack!;
  const key = await s.key('psb', 'publisher');
  const acknowledged: string[] = [];
  const statuses = new Set<number>();
  const publish = async (seed: number) => {
    const records = generateSample(DATASET, 5, seed);
    const res = await httpJson(`${s.url}/v1/datasets/${DATASET}/records`, { method: 'POST', key, body: { records } });
    statuses.add(res.status);
    if (res.status === 200) acknowledged.push(...records.map((r) => r.id_number as string));
    return res;
  };
  // A broker that has just started (cold TLS, coordinators loading) may take a while to accept the first publish;
  // while the test's synchronous services.sh runs, this process is frozen and its idle HTTP connections can reset.
  const publishUntilAccepted = async (firstSeed: number): Promise<boolean> => {
    for (let seed = firstSeed; seed < firstSeed + 40; seed++) {
      if ((await publish(seed).catch(() => null))?.status === 200) return true;
      await new Promise((r) => setTimeout(r, 1000));
    }
    return false;
  };

  expect(await publishUntilAccepted(1000)).toBe(true);

  services('down');
  const during = await publish(2);
  expect(during.status).toBe(503);
  expect(during.body.error.code).toBe('kafka.unavailable');
  expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
  expect((await httpJson(`${s.url}/readyz`)).status).toBe(503);
  // reads of Kafka for the console answer 503 too, never 500
  const deadLetters = await httpJson(`${s.url}/v1/datasets/${DATASET}/dead-letters`, { key: await s.key('psb', 'steward') });
  expect([deadLetters.status, deadLetters.body.error.code]).toEqual([503, 'kafka.unavailable']);
  expect(Number(deadLetters.headers.get('retry-after'))).toBeGreaterThan(0);

  services('up');
  expect(await publishUntilAccepted(3)).toBe(true);
  expect([...statuses].sort()).toEqual([200, 503]);

  const kafka = testKafka({ KAFKA_BROKERS: `127.0.0.1:${port}` });
  const wanted = new Set(acknowledged);
  const got = await readTopicUntil(kafka, `govx.dataset.${DATASET}`, (all) => {
    const seen = new Set(all.map((m) => String(m.key)));
    return [...wanted].every((k) => seen.has(k));
  });
  const seen = new Set(got.map((m) => String(m.key)));
  expect([...wanted].filter((k) => !seen.has(k))).toEqual([]);
}, 240_000);
