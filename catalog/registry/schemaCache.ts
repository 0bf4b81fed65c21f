import type avro from 'avsc';
import type { Pool } from '../../lib/db';
import { type AvroDecodeLimits, AvroDecodeError, decodeBounded } from '../../schemas/boundedDecode';
import { compileNaturalType } from '../../schemas/codec';
import { decodeWireFormat, UndecodableValueError } from '../../schemas/wireFormat';
import { getSchemaById } from './store';

export interface CachedSchema {
  id: number;
  /** the schema as registered, parsed */
  schema: unknown;
  /** compiled for natural JSON (schemas/codec.ts) */
  type: avro.Type;
}

export interface DecodedValue<T = Record<string, unknown>> {
  /** null for a tombstone */
  schemaId: number | null;
  value: T | null;
}

/**
 * Registered schemas by id, compiled once per process. A schema id never changes meaning, so entries never
 * expire; ids the registry does not know are not remembered (an attacker's made-up ids cannot fill it).
 * Every value read from Kafka is decoded here: wire format, schema lookup, then the bounded decoder.
 */
export class SchemaCache {
  private readonly schemas = new Map<number, CachedSchema>();

  constructor(private readonly pool: Pool) {}

  /** A database fault is thrown as is: it is transient, unlike an id that is not in the registry. */
  async get(schemaId: number): Promise<CachedSchema> {
    const known = this.schemas.get(schemaId);
    if (known) return known;
    const found = await getSchemaById(this.pool, schemaId);
    if (!found) throw new UndecodableValueError('unknown-schema', `schema id ${schemaId} is not in the registry`);
    let entry: CachedSchema;
    try {
      const schema = JSON.parse(found.schema) as unknown;
      entry = { id: schemaId, schema, type: compileNaturalType(schema) };
    } catch (err) {
      throw new UndecodableValueError('unknown-schema', `schema id ${schemaId} does not compile: ${(err as Error).message}`, err);
    }
    this.schemas.set(schemaId, entry);
    return entry;
  }

  /** A Confluent-wire-format value as natural JSON; null (a tombstone) decodes to null. */
  async decode<T = Record<string, unknown>>(value: Buffer | null, limits?: Partial<AvroDecodeLimits>): Promise<DecodedValue<T>> {
    if (value === null) return { schemaId: null, value: null };
    const wire = decodeWireFormat(value);
    const { type } = await this.get(wire.schemaId);
    try {
      // anyone who can write to a topic could craft the bytes: bound what avsc may allocate
      return { schemaId: wire.schemaId, value: decodeBounded<T>(type, wire.body, limits) };
    } catch (err) {
      if (!(err instanceof AvroDecodeError)) throw err;
      throw new UndecodableValueError('avro-decode', `value does not decode with schema id ${wire.schemaId}: ${err.message}`, err);
    }
  }
}
