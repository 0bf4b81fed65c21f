import type avro from 'avsc';
import { GovxError } from '../lib/errors';

/**
 * The Confluent wire format of every value on govx topics: magic byte 0, the schema id as a 4-byte
 * big-endian integer, then the Avro body. Confluent serializers and clients read and write exactly this.
 */

const MAGIC_BYTE = 0;
export const WIRE_HEADER_BYTES = 5;

/** Largest value govx decodes at all (the bounded decoder's own default limit); larger ones are refused unread. */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;

export type UndecodableClass = 'wire-format' | 'unknown-schema' | 'avro-decode' | 'too-large';

/**
 * Bytes from Kafka that cannot be turned into a record, whoever reads them (distributor, HTTP delivery,
 * sinks). `errorClass` is stable: sinks put it into the dead-letter headers (`undecodable:<class>`).
 */
export class UndecodableValueError extends GovxError {
  constructor(
    readonly errorClass: UndecodableClass,
    message: string,
    cause?: unknown,
  ) {
    super(502, `record.undecodable.${errorClass}`, message, { details: { errorClass }, cause });
  }
}

export function encodeWireFormat(schemaId: number, avroBody: Buffer): Buffer {
  const out = Buffer.allocUnsafe(WIRE_HEADER_BYTES + avroBody.length);
  writeWireHeader(out, schemaId);
  avroBody.copy(out, WIRE_HEADER_BYTES);
  return out;
}

/** Writes the 5-byte header at the start of `buf`, for encoders that put the Avro body after it in place. */
export function writeWireHeader(buf: Buffer, schemaId: number): void {
  buf.writeUInt8(MAGIC_BYTE, 0);
  buf.writeInt32BE(schemaId, 1);
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/** encodeWireFormat(schemaId, type.toBuffer(record)) with one allocation instead of three: encoded in place after the header. */
export function encodeRecord(type: avro.Type, schemaId: number, record: unknown): Buffer {
  for (;;) {
    const end = type.encode(record, scratch, WIRE_HEADER_BYTES);
    if (end >= 0) {
      const out = Buffer.allocUnsafe(end);
      scratch.copy(out, 0, 0, end);
      writeWireHeader(out, schemaId);
      return out;
    }
    scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
  }
}

/** The schema id and Avro body of a value; anything else is an UndecodableValueError. */
export function decodeWireFormat(value: Buffer): { schemaId: number; body: Buffer } {
  if (value.length > MAX_VALUE_BYTES) throw new UndecodableValueError('too-large', `value of ${value.length} bytes exceeds ${MAX_VALUE_BYTES}`);
  if (value.length < WIRE_HEADER_BYTES || value.readUInt8(0) !== MAGIC_BYTE) {
    throw new UndecodableValueError('wire-format', 'value is not in the Confluent wire format (magic byte 0, 4-byte schema id, Avro body)');
  }
  return { schemaId: value.readInt32BE(1), body: value.subarray(WIRE_HEADER_BYTES) };
}
