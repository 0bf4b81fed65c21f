import fs from 'node:fs';
import path from 'node:path';
import { assertInsideRoot } from './fileSource';
import type { SinkRecord, SinkWriter, SinkWriteResult } from './sinkTask';

/**
 * Appends records to an NDJSON file, one line each: `{"topic","partition","offset","timestamp","key",
 * "schemaId","headers","value"}` with the value in natural JSON. A write is fsynced before it resolves, so
 * the runtime commits offsets only for lines that survive a crash. A failed write is cut back off the file
 * before it is retried, so a retry never leaves half a line behind.
 */
export class FileSinkWriter implements SinkWriter {
  private handle: fs.promises.FileHandle | null = null;

  constructor(
    private readonly file: string,
    private readonly fileRoot: string,
  ) {}

  async open(): Promise<void> {
    const dir = path.dirname(this.file);
    await fs.promises.mkdir(dir, { recursive: true });
    await assertInsideRoot(this.fileRoot, dir, 'file');
    this.handle = await fs.promises.open(this.file, 'a');
  }

  async write(records: SinkRecord[]): Promise<SinkWriteResult> {
    const handle = this.handle!;
    const text = records
      .map((r) => JSON.stringify({ topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, schemaId: r.schemaId, headers: r.headers, value: r.value }))
      .join('\n');
    const { size } = await handle.stat();
    try {
      await handle.write(`${text}\n`);
      await handle.sync();
    } catch (err) {
      await handle.truncate(size).catch(() => undefined);
      throw err;
    }
    return { failed: [] };
  }

  async close(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = null;
  }
}
