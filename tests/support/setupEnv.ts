import fs from 'node:fs';
import path from 'node:path';

const state = JSON.parse(fs.readFileSync(path.join(__dirname, '.state.json'), 'utf8')) as {
  databaseUrl: string;
  kafkaBrokers: string;
};
process.env.DATABASE_URL = state.databaseUrl;
process.env.KAFKA_BROKERS = state.kafkaBrokers;
process.env.GOVX_LOG_LEVEL = process.env.GOVX_LOG_LEVEL ?? 'silent';
