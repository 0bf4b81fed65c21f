import avro from 'avsc';
import fs from 'node:fs';
import path from 'node:path';
import { AvroDecodeError, checkAvroBounds, decodeBounded } from '../../../schemas/boundedDecode';
import { compileNaturalType } from '../../../schemas/codec';
import { generateSample } from '../../../schemas/samples';

const residents = compileNaturalType(JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/population.residents.avsc'), 'utf8')));
const buildings = compileNaturalType(JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/geospatial.buildings.avsc'), 'utf8')));

/** Avro's zig-zag varint, for crafting hostile bytes by hand. */
function varint(n: number): Buffer {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 128) {
    out.push((z % 128) | 0x80);
    z = Math.floor(z / 128);
  }
  out.push(z);
  return Buffer.from(out);
}

function rejection(fn: () => unknown): AvroDecodeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AvroDecodeError);
    return err as AvroDecodeError;
  }
  throw new Error('expected an AvroDecodeError');
}

const strings = avro.Type.forSchema({ type: 'array', items: 'string' });
const nulls = avro.Type.forSchema({ type: 'array', items: 'null' });
const text = avro.Type.forSchema('string');

describe('decodeBounded', () => {
  it('decodes every seed sample exactly as avsc does', () => {
    for (const record of generateSample('population.residents', 20, 11)) {
      const buf = residents.toBuffer(record);
      expect(decodeBounded(residents, buf)).toEqual(residents.fromBuffer(buf));
    }
    for (const record of generateSample('geospatial.buildings', 10, 12)) {
      const buf = buildings.toBuffer(record);
      expect(decodeBounded(buildings, buf)).toEqual(buildings.fromBuffer(buf));
    }
  });

  it('refuses a string that announces 2 GiB in a 6-byte buffer, without allocating it', () => {
    const hostile = Buffer.concat([varint(2 ** 31), Buffer.from('a')]);
    const before = process.memoryUsage().arrayBuffers;
    const err = rejection(() => decodeBounded(text, hostile));
    expect(err.code).toBe('avro.limit_exceeded');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('refuses a string longer than the bytes that remain as truncated', () => {
    const err = rejection(() => decodeBounded(text, Buffer.concat([varint(100), Buffer.from('short')])));
    expect(err.reason).toBe('truncated');
    expect(err.code).toBe('avro.malformed');
  });

  it('refuses negative lengths', () => {
    expect(rejection(() => decodeBounded(text, varint(-5))).reason).toBe('negative-length');
  });

  it('refuses an array block count of 10^15 null items quickly instead of looping', () => {
    const hostile = Buffer.concat([varint(1e15), varint(0)]);
    const err = rejection(() => decodeBounded(nulls, hostile, { maxItems: 1000 }));
    expect(err.reason).toBe('limit');
    expect(err.message).toContain('1000');
  });

  it('refuses an array block whose announced byte size exceeds the buffer', () => {
    const hostile = Buffer.concat([varint(-3), varint(1e9), varint(1), Buffer.from('a')]);
    expect(rejection(() => decodeBounded(strings, hostile)).reason).toBe('truncated');
  });

  it('refuses items that run past the end of the buffer', () => {
    const hostile = Buffer.concat([varint(500_000), varint(1), Buffer.from('a')]);
    expect(rejection(() => decodeBounded(strings, hostile)).reason).toBe('truncated');
  });

  it('refuses a truncated record, a bad union branch, a bad enum index and trailing bytes', () => {
    const [record] = generateSample('population.residents', 1, 3);
    const good = residents.toBuffer(record);
    expect(rejection(() => decodeBounded(residents, good.subarray(0, good.length - 3))).reason).toBe('truncated');
    expect(rejection(() => decodeBounded(residents, Buffer.concat([good, Buffer.from([0])]))).reason).toBe('trailing-bytes');
    const union = avro.Type.forSchema(['null', 'string']);
    expect(rejection(() => decodeBounded(union, varint(7))).reason).toBe('invalid');
    const gender = avro.Type.forSchema({ type: 'enum', name: 'G', symbols: ['A', 'B'] });
    expect(rejection(() => decodeBounded(gender, varint(2))).reason).toBe('invalid');
  });

  it('refuses a varint longer than ten bytes and numbers beyond 2^53', () => {
    expect(rejection(() => decodeBounded(avro.Type.forSchema('long'), Buffer.alloc(11, 0xff))).reason).toBe('invalid');
    expect(rejection(() => decodeBounded(text, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))).reason).toBe('invalid');
  });

  it('bounds the nesting of recursive schemas', () => {
    const tree = avro.Type.forSchema({
      type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }],
    });
    // each level: union branch 1, the innermost: branch 0 (null)
    const deep = Buffer.concat([...Array.from({ length: 500 }, () => varint(1)), varint(0)]);
    expect(rejection(() => checkAvroBounds(tree, deep, { maxDepth: 64 })).reason).toBe('limit');
    const shallow = Buffer.concat([varint(1), varint(1), varint(0)]);
    expect(decodeBounded(tree, shallow)).toBeTruthy();
  });

  it('reads into a reader schema through a resolver after the check', () => {
    const writer = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }] });
    const reader = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] });
    const buf = writer.toBuffer({ a: 'x', b: 3 });
    expect(decodeBounded(writer, buf, {}, reader.createResolver(writer), reader)).toEqual({ a: 'x' });
  });
});

describe('decoding Avro bodies from the wire', () => {
  const type = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'name', type: 'string' }] });

  it('decodes a whole body and refuses trailing or missing bytes', () => {
    const body = type.toBuffer({ name: '张三' });
    expect(decodeBounded(type, body)).toEqual({ name: '张三' });
    expect(() => decodeBounded(type, Buffer.concat([body, Buffer.from([1, 2])]))).toThrow('2 bytes follow the value');
    expect(() => decodeBounded(type, body.subarray(0, body.length - 1))).toThrow(AvroDecodeError);
    // A string length far beyond the buffer must fail, not allocate.
    expect(() => decodeBounded(type, Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]))).toThrow();
  });
});
