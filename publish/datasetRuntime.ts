import type avro from 'avsc';
import { type Dataset, getDataset } from '../catalog/datasets';
import { SchemaCache } from '../catalog/registry/schemaCache';
import { getSubjectVersion } from '../catalog/registry/store';
import type { Pool } from '../lib/db';
import { domainChecksOf } from '../schemas/validators';

/** What the publish path needs of a dataset: its catalog entry and its latest schema, compiled. */
export interface DatasetRuntime {
  dataset: Dataset;
  schemaId: number;
  schemaVersion: number;
  type: avro.Type;
  checks: ReturnType<typeof domainChecksOf>;
}

/**
 * Compiled datasets, refreshed after `ttlMs` so catalog edits and new schema versions take effect within
 * seconds on every gateway process without coordination. Schemas are compiled once per schema id, by the
 * process's schema cache.
 */
export class DatasetRuntimes {
  private readonly cache = new Map<string, { runtime: DatasetRuntime | null; expires: number }>();

  constructor(
    private readonly pool: Pool,
    private readonly schemas: SchemaCache = new SchemaCache(pool),
    private readonly ttlMs = 3000,
  ) {}

  async get(id: string): Promise<DatasetRuntime | null> {
    const now = Date.now();
    const hit = this.cache.get(id);
    if (hit && hit.expires > now) return hit.runtime;
    const runtime = await this.load(id);
    this.cache.set(id, { runtime, expires: now + this.ttlMs });
    return runtime;
  }

  invalidate(id?: string): void {
    if (id) this.cache.delete(id);
    else this.cache.clear();
  }

  private async load(id: string): Promise<DatasetRuntime | null> {
    const dataset = await getDataset(this.pool, id);
    if (!dataset) return null;
    const latest = await getSubjectVersion(this.pool, dataset.schemaSubject, 'latest');
    if (!latest) return null;
    const { schema, type } = await this.schemas.get(latest.id);
    return { dataset, schemaId: latest.id, schemaVersion: latest.version, type, checks: domainChecksOf(schema as object) };
  }
}
