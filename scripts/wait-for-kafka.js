#!/usr/bin/env node
'use strict';
// Exits 0 once a Kafka broker at the given bootstrap address answers a metadata request from govx's own
// principal (TLS + SASL, configured as everywhere else by lib/kafka.ts), 1 after the deadline, 2 when the
// configuration is unusable. Runs the compiled code: scripts/services.sh builds it when it is stale.
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'lib');
const { loadConfig } = require(path.join(dist, 'config.js'));
const { createKafka } = require(path.join(dist, 'kafka.js'));
const { createLogger } = require(path.join(dist, 'logger.js'));

const [brokers = '127.0.0.1:9092', seconds = '60'] = process.argv.slice(2);
const deadline = Date.now() + Number(seconds) * 1000;
let kafka;
try {
  kafka = createKafka(loadConfig({ ...process.env, KAFKA_BROKERS: brokers }), createLogger('silent', 'govx-wait'), 'wait', {
    connectionTimeout: 5000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
(async () => {
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.disconnect();
      if (cluster.brokers.length > 0) process.exit(0);
    } catch {
      await admin.disconnect().catch(() => {});
    }
    if (Date.now() > deadline) process.exit(1);
    await new Promise((r) => setTimeout(r, 500));
  }
})();
