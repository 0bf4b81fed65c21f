import type avro from 'avsc';
import { type Dataset, getDataset } from '../catalog/datasets';
import { getSubjectVersion } from '../catalog/registry/store';
import type { Pool } from '../lib/db';
import { compileNaturalType } from '../schemas/codec';
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
 * seconds on every gateway process without coordination. A compile happens once per schema id.
 */
export class DatasetRuntimes {
  private readonly cache = new Map<string, { runtime: DatasetRuntime | null; expires: number }>();
  private readonly compiled = new Map<number, { type: avro.Type; checks: DatasetRuntime['checks'] }>();

  constructor(
    private readonly pool: Pool,
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
    let compiled = this.compiled.get(latest.id);
    if (!compiled) {
      const schema = JSON.parse(latest.schema) as object;
      compiled = { type: compileNaturalType(schema), checks: domainChecksOf(schema) };
      this.compiled.set(latest.id, compiled);
    }
    return { dataset, schemaId: latest.id, schemaVersion: latest.version, ...compiled };
  }
}
