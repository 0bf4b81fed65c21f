import type avro from 'avsc';
import type { IHeaders, Message } from 'kafkajs';
import { getSchemaById } from '../catalog/registry/store';
import { Masker } from '../catalog/sharingPolicy';
import type { Subscription } from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import { decodeBounded } from '../schemas/boundedDecode';
import { compileNaturalType } from '../schemas/codec';
import { fromWireFormat, toWireFormat } from '../publish/stages';

/** Header names carried from the dataset record onto every share record. */
const PROVENANCE = ['govx-dataset', 'govx-publisher', 'govx-trace-id', 'govx-published-at'] as const;

/** Largest value the distributor decodes (the bounded decoder's own default limit). */
const MAX_VALUE_BYTES = 16 * 1024 * 1024;

export class UndecodableRecordError extends Error {
  override readonly name = 'UndecodableRecordError';
}

/**
 * Turns one dataset record into what one subscription may see: decode with the writer's schema (by the
 * id in the wire format), keep the granted fields, mask what must be masked, encode with the
 * subscription's derived schema, and pseudonymize the key unless the key field is granted in clear.
 */
export class ShareProjector {
  private readonly types = new Map<number, avro.Type>();
  private readonly maskers = new Map<string, Masker>();

  constructor(
    private readonly pool: Pool,
    private readonly maskingKey: Buffer,
  ) {}

  private async typeOf(schemaId: number): Promise<avro.Type> {
    let type = this.types.get(schemaId);
    if (!type) {
      const found = await getSchemaById(this.pool, schemaId);
      if (!found) throw new UndecodableRecordError(`schema id ${schemaId} is not in the registry`);
      type = compileNaturalType(JSON.parse(found.schema));
      this.types.set(schemaId, type);
    }
    return type;
  }

  private maskerOf(dataset: string): Masker {
    let m = this.maskers.get(dataset);
    if (!m) this.maskers.set(dataset, (m = new Masker(this.maskingKey, dataset)));
    return m;
  }

  /** Decodes a dataset record's value to natural JSON; bad bytes are an UndecodableRecordError. */
  async decode(value: Buffer): Promise<{ schemaId: number; record: Record<string, unknown> }> {
    if (value.length > MAX_VALUE_BYTES) throw new UndecodableRecordError(`value of ${value.length} bytes exceeds ${MAX_VALUE_BYTES}`);
    let wire;
    try {
      wire = fromWireFormat(value);
    } catch {
      throw new UndecodableRecordError('value is not in the Confluent wire format');
    }
    const type = await this.typeOf(wire.schemaId);
    try {
      // anyone who can write to the dataset topic could craft the bytes: bound what avsc may allocate
      return { schemaId: wire.schemaId, record: decodeBounded<Record<string, unknown>>(type, wire.body) };
    } catch (err) {
      throw new UndecodableRecordError(`value does not decode with schema ${wire.schemaId}: ${(err as Error).message}`);
    }
  }

  async project(
    sub: Subscription,
    keyField: string,
    source: { key: Buffer | null; value: Buffer | null; headers?: IHeaders },
    decoded: Record<string, unknown> | null,
  ): Promise<Message> {
    const masker = this.maskerOf(sub.dataset);
    const granted = sub.fields ?? [];
    const keyGrant = granted.find((g) => g.name === keyField);
    const rawKey = source.key?.toString('utf8') ?? null;
    const key = rawKey === null ? null : keyGrant?.delivery === 'clear' ? rawKey : masker.hash(rawKey);

    const headers: IHeaders = { 'govx-subscription': sub.id };
    for (const name of PROVENANCE) {
      const v = source.headers?.[name];
      if (v !== undefined) headers[name] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    }
    if (decoded === null) return { key, value: null, headers };

    const projected: Record<string, unknown> = {};
    for (const g of granted) projected[g.name] = masker.apply(g.delivery, decoded[g.name]);
    const derivedId = sub.derivedSchemaId!;
    const type = await this.typeOf(derivedId);
    headers['govx-schema-id'] = String(derivedId);
    return { key, value: toWireFormat(derivedId, type.toBuffer(projected)), headers };
  }
}
