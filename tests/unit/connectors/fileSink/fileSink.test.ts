import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileSinkWriter } from '../../../../connectors/fileSink/fileSink';
import type { SinkRecord } from '../../../../connectors/runtime/sinkTask';

const record = (offset: number): SinkRecord => ({
  topic: 'govx.share.t',
  partition: 0,
  offset: String(offset),
  timestamp: '2025-01-01T00:00:00.000Z',
  key: `k${offset}`,
  schemaId: 1,
  value: { n: offset, text: 'x'.repeat(100) },
  headers: {},
});

const lineOf = (offset: number): string => {
  const r = record(offset);
  return JSON.stringify({ topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, schemaId: r.schemaId, headers: r.headers, value: r.value });
};

/** Every line of the file, each of which must parse, and the file must end with a newline. */
const strictLines = (file: string): Array<Record<string, unknown>> => {
  const text = fs.readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l));
};

describe('the file sink writer', () => {
  let root: string;
  let file: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-filesink-'));
    file = path.join(root, 'out', 'records.ndjson');
    fs.mkdirSync(path.dirname(file));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it.each([
    ['a line cut after its first byte', '{'],
    ['a line cut in a string', lineOf(2).slice(0, 40)],
    ['a zero-filled tail', '\0'.repeat(4096)],
  ])('cuts %s left by a crash off when it opens the file again, keeping every complete line', async (_what, torn) => {
    fs.writeFileSync(file, `${lineOf(0)}\n${lineOf(1)}\n${torn}`);
    const writer = new FileSinkWriter(file, root);
    await writer.open();
    await writer.write([record(2), record(3)]);
    await writer.close();
    expect(strictLines(file).map((l) => l.offset)).toEqual(['0', '1', '2', '3']);
  });

  it('empties a file whose only line was torn', async () => {
    fs.writeFileSync(file, lineOf(0).slice(0, 10));
    const writer = new FileSinkWriter(file, root);
    await writer.open();
    await writer.close();
    expect(fs.statSync(file).size).toBe(0);
  });

  it('writes the rest of a batch that the system took only part of, so no line is torn', async () => {
    const writer = new FileSinkWriter(file, root);
    await writer.open();
    const handle = await fs.promises.open(path.join(root, 'probe'), 'w');
    const proto = Object.getPrototypeOf(handle) as fs.promises.FileHandle;
    await handle.close();
    const write = proto.write as (this: fs.promises.FileHandle, ...args: unknown[]) => Promise<unknown>;
    let calls = 0;
    jest.spyOn(proto, 'write').mockImplementation(function (this: fs.promises.FileHandle, ...args: unknown[]) {
      calls += 1;
      // The first call writes only 7 bytes, as write(2) may.
      if (calls === 1) return write.call(this, args[0], args[1] ?? 0, 7);
      return write.apply(this, args);
    } as typeof proto.write);
    await writer.write([record(0), record(1)]);
    await writer.close();
    expect(calls).toBeGreaterThan(1);
    expect(strictLines(file).map((l) => l.offset)).toEqual(['0', '1']);
  });
});
