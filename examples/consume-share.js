#!/usr/bin/env node
'use strict';
/*
 * Reads a govx share topic as a department's own system would, and prints each record decoded.
 *
 *   npm install kafkajs @kafkajs/confluent-schema-registry      (in your own project; govx has both)
 *   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \
 *   KAFKA_USERNAME=dept.civil-affairs KAFKA_PASSWORD=…          (npx govx kafka credentials create --department civil-affairs)
 *   KAFKA_CA_FILE=ca.pem \                                       (the CA that signed the broker's certificate)
 *   KAFKA_GROUP_ID=dept.civil-affairs.elderly-subsidy \          (must start with dept.<your department>.)
 *   SHARE_TOPIC=govx.share.sub-… \                               (the "topic" of your approved subscription)
 *   REGISTRY_URL=http://127.0.0.1:8080/registry REGISTRY_USER=civil-affairs REGISTRY_KEY=govx_… \
 *   node examples/consume-share.js
 *
 * Optional: FROM_BEGINNING=false to start at the end for a new group; MAX_RECORDS=N to stop after N records.
 * Each record is printed as one JSON line: {"partition","offset","key","value"}. Ctrl-C stops it.
 */
const fs = require('node:fs');
const { Kafka, logLevel } = require('kafkajs');
const { SchemaRegistry } = require('@kafkajs/confluent-schema-registry');

function required(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`consume-share: set ${name} (see the top of ${__filename})\n`);
    process.exit(2);
  }
  return value;
}

const kafka = new Kafka({
  clientId: 'govx-share-consumer',
  brokers: required('KAFKA_BOOTSTRAP_SERVERS').split(','),
  // TLS, verifying the broker against the CA you were given; SCRAM-SHA-512 with your department's credentials
  ssl: { ca: [fs.readFileSync(required('KAFKA_CA_FILE'), 'utf8')], rejectUnauthorized: true },
  sasl: { mechanism: 'scram-sha-512', username: required('KAFKA_USERNAME'), password: required('KAFKA_PASSWORD') },
  logLevel: logLevel.ERROR,
});
// govx's Confluent-compatible registry: HTTP Basic with your department id and an API key of it
const registry = new SchemaRegistry({
  host: required('REGISTRY_URL'),
  auth: { username: required('REGISTRY_USER'), password: required('REGISTRY_KEY') },
});
const topic = required('SHARE_TOPIC');
const maxRecords = Number(process.env.MAX_RECORDS ?? 0);
const consumer = kafka.consumer({ groupId: required('KAFKA_GROUP_ID') });

// Avro bytes and longs decode to Buffers and BigInts, which JSON does not print by itself.
const printable = (_key, value) => (typeof value === 'bigint' ? value.toString() : value && value.type === 'Buffer' ? Buffer.from(value.data).toString('base64') : value);

async function main() {
  let seen = 0;
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    await consumer.disconnect().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  // a revoked subscription or revoked credentials end here: the broker refuses the next fetch
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    process.stderr.write(`consume-share: ${payload.error.type ?? payload.error.name}: ${payload.error.message}\n`);
    if (!payload.restart) void stop(1);
  });

  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: process.env.FROM_BEGINNING !== 'false' });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (stopping) return;
      const value = message.value ? await registry.decode(message.value) : null;
      const key = message.key ? message.key.toString('utf8') : null;
      process.stdout.write(`${JSON.stringify({ partition, offset: message.offset, key, value }, printable)}\n`);
      seen += 1;
      if (maxRecords > 0 && seen >= maxRecords) void stop(0);
    },
  });
}

main().catch((err) => {
  process.stderr.write(`consume-share: ${err.type ?? err.name}: ${err.message}\n`);
  process.exit(1);
});
