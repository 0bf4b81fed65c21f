import avro from 'avsc';
import { type FieldCheck, runDomainChecks } from './validators';
import { WIRE_HEADER_BYTES, writeWireHeader } from './wireFormat';

/**
 * A record type's validation and encoding compiled into one walk (closures built once per schema version):
 * types, required and unknown fields, string limits, enums, logical types (each converted once, not once to
 * validate and again to encode), then the schema's domain checks, and the Avro body written as it goes.
 *
 * The compiled walk only ever answers "valid, here are the bytes" or "not certainly valid": a record it does
 * not accept goes to the reference path (`validateNatural` + string limits + domain checks), which alone
 * words the errors. So a rejected record gets exactly the errors it always got, and the compiled walk only has
 * to be sound: whatever it accepts the reference accepts, and its bytes are what avsc writes
 * (tests/unit/schemas/compiledRecord.test.ts checks both on many valid and invalid records). Leaves use
 * avsc's own checks and writers, so the bytes are avsc's by construction.
 */

interface Tap {
  buf: Buffer;
  pos: number;
  isValid(): boolean;
  writeLong(n: number): void;
  writeString(s: string): void;
  writeBinary(s: string, len: number): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Tap: AvscTap } = require('avsc/lib/utils') as { Tap: new (buf: Buffer, pos: number) => Tap };

/** Writes `v` at the tap if it is valid; false (having written garbage, the caller discards it) if not. */
type Write = (v: unknown, tap: Tap) => boolean;

/** One record in the Confluent wire format, or null when it is not certainly valid (ask the reference path). */
export type RecordWriter = (record: unknown, schemaId: number) => Buffer | null;

interface AvscInternals {
  typeName: string;
  _check(v: unknown): boolean;
  _write(tap: Tap, v: unknown): void;
  _toValue?(v: unknown): unknown;
  _getIndex?(v: unknown): number | undefined;
  underlyingType?: AvscInternals;
  types?: AvscInternals[];
  itemsType?: AvscInternals;
  valuesType?: AvscInternals;
  fields?: Array<{ name: string; type: AvscInternals; defaultValue(): unknown }>;
}

class Unsupported extends Error {}

const LEAVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'string', 'bytes', 'enum', 'fixed']);

function compileType(type: AvscInternals, maxLength: number): Write {
  const name = type.typeName;
  if (name === 'string') {
    return (v, tap) => {
      if (typeof v !== 'string' || v.length > maxLength) return false;
      tap.writeString(v);
      return true;
    };
  }
  if (LEAVES.has(name)) {
    return (v, tap) => {
      if (!type._check(v) || (typeof v === 'string' && v.length > maxLength)) return false;
      type._write(tap, v);
      return true;
    };
  }
  if (name.startsWith('logical:')) {
    const under = type.underlyingType!;
    if (!LEAVES.has(under.typeName)) throw new Unsupported(name);
    return (v, tap) => {
      if (typeof v === 'string' && v.length > maxLength) return false;
      let value: unknown;
      try {
        value = type._toValue!(v);
      } catch {
        return false;
      }
      if (value === undefined || !under._check(value)) return false;
      under._write(tap, value);
      return true;
    };
  }
  if (name === 'record' || name === 'error') return compileRecord(type, maxLength);
  if (name === 'array') {
    const items = compileType(type.itemsType!, maxLength);
    return (v, tap) => {
      if (!Array.isArray(v)) return false;
      if (v.length) {
        tap.writeLong(v.length);
        for (let i = 0; i < v.length; i++) if (!items(v[i], tap)) return false;
      }
      tap.writeLong(0);
      return true;
    };
  }
  if (name === 'map') {
    const values = compileType(type.valuesType!, maxLength);
    return (v, tap) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
      const keys = Object.keys(v);
      if (keys.length) {
        tap.writeLong(keys.length);
        for (const key of keys) {
          tap.writeString(key);
          if (!values((v as Record<string, unknown>)[key], tap)) return false;
        }
      }
      tap.writeLong(0);
      return true;
    };
  }
  if (name === 'union:unwrapped') {
    const branches = type.types!.map((t) => compileType(t, maxLength));
    return (v, tap) => {
      let index: number | undefined;
      try {
        index = type._getIndex!(v);
      } catch {
        return false; // an ambiguous value: the reference path says what it says about it
      }
      if (index === undefined) return false;
      tap.writeLong(index);
      return branches[index]!(v, tap);
    };
  }
  throw new Unsupported(name);
}

function compileRecord(type: AvscInternals, maxLength: number): Write {
  const fields = type.fields!.map((f) => {
    // avsc reads fields as `v.name`: a name Object.prototype also has would read what the prototype holds.
    if (f.name in Object.prototype) throw new Unsupported(`field ${f.name}`);
    const dflt = f.defaultValue();
    const defaultBytes = dflt === undefined ? undefined : (f.type as unknown as avro.Type).toBuffer(dflt).toString('binary');
    return { name: f.name, write: compileType(f.type, maxLength), defaultBytes };
  });
  const declared = new Set(fields.map((f) => f.name));
  return (v, tap) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const record = v as Record<string, unknown>;
    for (const key of Object.keys(record)) if (!declared.has(key)) return false;
    for (const f of fields) {
      const value = record[f.name];
      if (value === undefined) {
        if (f.defaultBytes === undefined) return false;
        tap.writeBinary(f.defaultBytes, f.defaultBytes.length);
      } else if (!f.write(value, tap)) return false;
    }
    return true;
  };
}

/** Compiles a record type; null when it uses something the compiled walk does not cover (the reference path then does all). */
export function compileRecordWriter(type: avro.Type, checks: readonly FieldCheck[], maxStringLength: number): RecordWriter | null {
  const internals = type as unknown as AvscInternals;
  if (internals.typeName !== 'record') return null;
  let write: Write;
  try {
    write = compileRecord(internals, maxStringLength);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
  let scratch = Buffer.allocUnsafe(64 * 1024);
  return (record, schemaId) => {
    for (;;) {
      const tap = new AvscTap(scratch, WIRE_HEADER_BYTES);
      if (!write(record, tap)) return null;
      if (tap.isValid()) {
        if (checks.length > 0 && runDomainChecks(checks, record).length > 0) return null;
        const out = Buffer.allocUnsafe(tap.pos);
        scratch.copy(out, 0, 0, tap.pos);
        writeWireHeader(out, schemaId);
        return out;
      }
      scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, tap.pos));
    }
  };
}

const compiled = new WeakMap<avro.Type, Map<number, RecordWriter | null>>();

/** The compiled writer of a type for a string limit, compiled once per schema version (types are cached per schema id). */
export function recordWriterFor(type: avro.Type, checks: readonly FieldCheck[], maxStringLength: number): RecordWriter | null {
  let byLimit = compiled.get(type);
  if (!byLimit) compiled.set(type, (byLimit = new Map()));
  if (!byLimit.has(maxStringLength)) byLimit.set(maxStringLength, compileRecordWriter(type, checks, maxStringLength));
  return byLimit.get(maxStringLength)!;
}
