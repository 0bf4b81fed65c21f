import avro from 'avsc';
import { decodeWireFormat, encodeRecord, encodeWireFormat, MAX_VALUE_BYTES, UndecodableValueError } from '../../../schemas/wireFormat';

const undecodable = (errorClass: string) => expect.objectContaining({ name: UndecodableValueError.name, errorClass });

describe('the Confluent wire format', () => {
  const type = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] });

  it('puts magic byte 0 and the big-endian schema id before the Avro body, and reads them back', () => {
    const body = type.toBuffer({ a: 'x' });
    const value = encodeWireFormat(0x01020304, body);
    expect([...value.subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect(decodeWireFormat(value)).toEqual({ schemaId: 0x01020304, body });
  });

  it('encodes a record in place exactly as encoding its body and prefixing the header does, whatever its size', () => {
    for (const a of ['', 'short', '长安街'.repeat(40_000)]) {
      expect(encodeRecord(type, 7, { a })).toEqual(encodeWireFormat(7, type.toBuffer({ a })));
    }
  });

  it('refuses what is not in the wire format, and what is too large to decode, with a stable class', () => {
    expect(() => decodeWireFormat(Buffer.from('{"id_number":"not avro"}'))).toThrow(undecodable('wire-format'));
    expect(() => decodeWireFormat(Buffer.from([0, 0, 0]))).toThrow(undecodable('wire-format'));
    const tooLarge = Buffer.alloc(MAX_VALUE_BYTES + 1);
    expect(() => decodeWireFormat(tooLarge)).toThrow(undecodable('too-large'));
  });
});
