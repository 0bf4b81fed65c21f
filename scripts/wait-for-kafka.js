#!/usr/bin/env node
'use strict';
// Exits 0 once a Kafka broker at the given bootstrap address answers a metadata request, 1 after the deadline.
const { Kafka, logLevel } = require('kafkajs');
const [brokers = '127.0.0.1:9092', seconds = '60'] = process.argv.slice(2);
const deadline = Date.now() + Number(seconds) * 1000;
(async () => {
  for (;;) {
    const admin = new Kafka({ clientId: 'govx-wait', brokers: brokers.split(','), logLevel: logLevel.NOTHING,
      connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
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
