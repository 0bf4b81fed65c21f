import type pg from 'pg';
import { readConnectorTargets, writeConnectorTargets } from '../../connectors/targets';
import type { Pool } from '../../lib/db';
import { httpJson } from './stack';

/** What a test adds to a department's connector allowance (merged with what it has). */
export interface TargetGrant {
  postgresHosts?: string[];
  postgresDatabases?: string[];
  webhookHosts?: string[];
  allowPrivateWebhooks?: boolean;
}

/** The database name of a PostgreSQL URL (what a test's department database is called). */
export const databaseOf = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));

function merge(current: { postgres: { hosts: string[]; databases: string[] }; webhooks: { hosts: string[]; allowPrivate: boolean } }, g: TargetGrant) {
  return {
    postgres: {
      hosts: [...new Set([...current.postgres.hosts, ...(g.postgresHosts ?? [])])],
      databases: [...new Set([...current.postgres.databases, ...(g.postgresDatabases ?? [])])],
    },
    webhooks: { hosts: [...new Set([...current.webhooks.hosts, ...(g.webhookHosts ?? [])])], allowPrivate: g.allowPrivateWebhooks ?? current.webhooks.allowPrivate },
  };
}

/**
 * An administrator allows a department's connectors to reach what a test set up for it (local test databases
 * and webhooks live on loopback), over the API as an operator would.
 */
export async function allowConnectorTargets(url: string, adminKey: string, department: string, grant: TargetGrant): Promise<void> {
  const path = `${url}/v1/departments/${department}/connector-targets`;
  const current = await httpJson(path, { key: adminKey });
  if (current.status !== 200) throw new Error(`could not read the connector targets of ${department}: ${current.status} ${JSON.stringify(current.body)}`);
  const res = await httpJson(path, { method: 'PUT', key: adminKey, body: merge(current.body, grant) });
  if (res.status !== 200) throw new Error(`could not allow connector targets for ${department}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** The same straight in govx's database, for tests that run a connector's writer without a gateway. */
export async function allowConnectorTargetsInDb(pool: Pool | pg.Client, department: string, grant: TargetGrant): Promise<void> {
  const current = await readConnectorTargets(pool, department);
  await writeConnectorTargets(pool, { department, ...merge(current, grant) }, 'test/setup');
}

/** A loopback PostgreSQL database of the test cluster, for a department. */
export const localDatabase = (dbUrl: string): TargetGrant => ({ postgresHosts: ['127.0.0.1/32', '::1/128'], postgresDatabases: [databaseOf(dbUrl)] });
