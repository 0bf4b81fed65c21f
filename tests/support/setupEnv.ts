import fs from 'node:fs';
import path from 'node:path';

const state = JSON.parse(fs.readFileSync(path.join(__dirname, '.state.json'), 'utf8')) as {
  databaseUrl: string;
  kafkaBrokers: string;
};
process.env.DATABASE_URL = state.databaseUrl;
process.env.KAFKA_BROKERS = state.kafkaBrokers;
// Each run has its own database, so its distributor gets its own consumer groups on the shared broker.
process.env.GOVX_DISTRIBUTOR_GROUP = `govx-distributor-${new URL(state.databaseUrl).pathname.slice(1)}`;
process.env.GOVX_LOG_LEVEL = process.env.GOVX_LOG_LEVEL ?? 'silent';
// Test gateways run side by side: each takes a free port for its metrics listener too.
process.env.GOVX_METRICS_PORT = process.env.GOVX_METRICS_PORT ?? '0';
// The sharing monitor runs on the real clock; tests that script a history run it themselves (monitoring tests).
process.env.GOVX_MONITOR_INTERVAL_MS = process.env.GOVX_MONITOR_INTERVAL_MS ?? '0';
// Test runs share their broker across databases (a shutdown test's gateway has a database of its own): a
// reconciler in such a gateway would withdraw the ACLs of this run's subscriptions. Suites that test
// reconciliation turn it on for their own gateway.
process.env.GOVX_KAFKA_ACL_RECONCILE_MS = process.env.GOVX_KAFKA_ACL_RECONCILE_MS ?? '0';
// Signed audit checkpoints anchor one database's chain: each run (its own database) gets its own checkpoint
// topic, and suites with databases of their own name theirs. Checkpoints are taken on demand in tests.
process.env.GOVX_AUDIT_CHECKPOINT_TOPIC = process.env.GOVX_AUDIT_CHECKPOINT_TOPIC ?? `govx.audit.checkpoints.${new URL(state.databaseUrl).pathname.slice(1)}`;
process.env.GOVX_AUDIT_CHECKPOINT_INTERVAL_MS = process.env.GOVX_AUDIT_CHECKPOINT_INTERVAL_MS ?? '0';
