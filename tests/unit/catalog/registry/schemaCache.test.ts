import { SchemaCache } from '../../../../catalog/registry/schemaCache';
import type { Pool } from '../../../../lib/db';
import type { AvroDecodeError } from '../../../../schemas/boundedDecode';
import { encodeWireFormat, UndecodableValueError } from '../../../../schemas/wireFormat';

/** The registry table as getSchemaById reads it: a stand-in for PostgreSQL, counting lookups. */
function registryOf(schemas: Record<number, unknown>): { pool: Pool; lookups: () => number } {
  let lookups = 0;
  const pool = {
    query: async (_sql: string, [id]: [number]) => {
      lookups++;
      const schema = schemas[id];
      return { rows: schema === undefined ? [] : [{ id, schema: typeof schema === 'string' ? schema : JSON.stringify(schema) }] };
    },
  } as unknown as Pool;
  return { pool, lookups: () => lookups };
}

async function rejection(p: Promise<unknown>): Promise<UndecodableValueError> {
  const err = await p.then(
    () => new Error('expected an UndecodableValueError'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UndecodableValueError);
  return err as UndecodableValueError;
}

describe('SchemaCache', () => {
  const tags = { type: 'record', name: 'Tags', fields: [{ name: 'tags', type: { type: 'array', items: 'null' } }] };

  it('decodes wire-format values with the registered schema, looking each id up once', async () => {
    const { pool, lookups } = registryOf({ 3: tags });
    const cache = new SchemaCache(pool);
    const value = encodeWireFormat(3, Buffer.from([4, 0])); // a block of 2 nulls, then the end
    expect(await cache.decode(value)).toEqual({ schemaId: 3, value: { tags: [null, null] } });
    expect(await cache.decode(value)).toEqual({ schemaId: 3, value: { tags: [null, null] } });
    expect(lookups()).toBe(1);
    expect(await cache.decode(null)).toEqual({ schemaId: null, value: null });
  });

  it('refuses a hostile array count without allocating for it (avro-decode)', async () => {
    const { pool } = registryOf({ 3: tags });
    // one block of 10^8 nulls (a zig-zag varint: 4 bytes), then the end of the array: valid Avro that
    // would make avsc build a 10^8-item array
    const hostile = encodeWireFormat(3, Buffer.from([0x80, 0x84, 0xaf, 0x5f, 0x00]));
    const err = await rejection(new SchemaCache(pool).decode(hostile));
    expect(err.errorClass).toBe('avro-decode');
    expect((err.cause as AvroDecodeError).reason).toBe('limit');
  });

  it('says which ids the registry does not know or cannot compile, and remembers neither', async () => {
    const { pool, lookups } = registryOf({ 5: '{"type":"nonsense"}' });
    const cache = new SchemaCache(pool);
    expect((await rejection(cache.decode(encodeWireFormat(4, Buffer.alloc(0))))).errorClass).toBe('unknown-schema');
    expect((await rejection(cache.decode(encodeWireFormat(4, Buffer.alloc(0))))).errorClass).toBe('unknown-schema');
    expect((await rejection(cache.decode(encodeWireFormat(5, Buffer.alloc(0))))).errorClass).toBe('unknown-schema');
    expect(lookups()).toBe(3);
  });

  it('refuses bytes that are not in the wire format before any lookup', async () => {
    const { pool, lookups } = registryOf({});
    expect((await rejection(new SchemaCache(pool).decode(Buffer.from('{"a":1}')))).errorClass).toBe('wire-format');
    expect(lookups()).toBe(0);
  });
});
