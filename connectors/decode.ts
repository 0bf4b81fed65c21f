import type avro from 'avsc';
import { getSchemaById } from '../catalog/registry/store';
import type { Pool } from '../lib/db';
import { compileNaturalType } from '../schemas/codec';

/** Why a value could not be decoded; the record goes to the dead-letter topic with this as its error class. */
export class UndecodableValue extends Error {
  constructor(
    readonly errorClass: 'wire-format' | 'unknown-schema' | 'avro-decode' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'UndecodableValue';
  }
}

const MAGIC_BYTE = 0;
/** Larger values than any govx topic accepts are refused before avsc sees them. */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;

/**
 * The seam where a bounded Avro decoder plugs in (schemas/codec.ts is getting one). avsc trusts lengths on
 * the wire; bounding the input size and refusing trailing bytes keeps a hostile value from doing more than
 * failing. Swap this function's body for the bounded decoder when it lands.
 */
export function decodeAvroBody(type: avro.Type, body: Buffer): unknown {
  const { value, offset } = type.decode(body, 0);
  if (offset < 0) throw new Error('truncated Avro body');
  if (offset !== body.length) throw new Error(`${body.length - offset} trailing bytes after the Avro record`);
  return value;
}

/** Decodes Confluent-wire-format values (magic byte 0, 4-byte schema id, Avro body) into natural JSON. */
export class WireDecoder {
  private readonly types = new Map<number, avro.Type>();

  constructor(private readonly pool: Pool) {}

  private async typeOf(schemaId: number): Promise<avro.Type> {
    const known = this.types.get(schemaId);
    if (known) return known;
    // A database fault here is thrown as is: it is transient, unlike an id that is not in the registry.
    const found = await getSchemaById(this.pool, schemaId);
    if (!found) throw new UndecodableValue('unknown-schema', `schema id ${schemaId} is not in the registry`);
    let type: avro.Type;
    try {
      type = compileNaturalType(JSON.parse(found.schema));
    } catch (err) {
      throw new UndecodableValue('unknown-schema', `schema id ${schemaId} does not compile: ${(err as Error).message}`);
    }
    this.types.set(schemaId, type);
    return type;
  }

  /** null (a tombstone) decodes to null. */
  async decode(value: Buffer | null): Promise<{ schemaId: number | null; value: unknown }> {
    if (value === null) return { schemaId: null, value: null };
    if (value.length > MAX_VALUE_BYTES) throw new UndecodableValue('too-large', `value of ${value.length} bytes exceeds ${MAX_VALUE_BYTES}`);
    if (value.length < 5 || value.readUInt8(0) !== MAGIC_BYTE) {
      throw new UndecodableValue('wire-format', 'value is not in the Confluent wire format (magic byte 0, 4-byte schema id, Avro body)');
    }
    const schemaId = value.readInt32BE(1);
    const type = await this.typeOf(schemaId);
    try {
      return { schemaId, value: decodeAvroBody(type, value.subarray(5)) };
    } catch (err) {
      throw new UndecodableValue('avro-decode', `value does not decode with schema id ${schemaId}: ${(err as Error).message}`);
    }
  }
}
