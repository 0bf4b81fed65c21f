import fs from 'node:fs';
import path from 'node:path';
import { assertInsideRoot } from '../fileRoot';
import type { SinkRecord, SinkWriter, SinkWriteResult } from '../runtime/sinkTask';

/**
 * Appends records to an NDJSON file, one line each: `{"topic","partition","offset","timestamp","key",
 * "schemaId","headers","value"}` with the value in natural JSON. A write is fsynced before it resolves, so
 * the runtime commits offsets only for lines that survive a crash. A failed write is cut back off the file
 * before it is retried, and a line torn by a crash is cut off when the file is opened again, so the file
 * stays valid NDJSON. It runs on one worker at a time (its plugin runs on one worker), so nobody else appends meanwhile.
 */
export class FileSinkWriter implements SinkWriter {
  private handle: fs.promises.FileHandle | null = null;

  constructor(
    private readonly file: string,
    private readonly fileRoot: string,
  ) {}

  async open(): Promise<void> {
    const dir = path.dirname(this.file);
    // checked before creating anything (a link on the way must not make govx create directories elsewhere) and after
    await assertInsideRoot(this.fileRoot, dir, 'file');
    await fs.promises.mkdir(dir, { recursive: true });
    await assertInsideRoot(this.fileRoot, dir, 'file');
    // O_NOFOLLOW: the file itself must not be a link to somewhere else
    this.handle = await fs.promises.open(this.file, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o640);
    await this.dropTornLine(this.handle);
  }

  /**
   * A crash in the middle of a write can leave a last line without its newline. Its records were never
   * fsynced, so their offsets were never committed and they come again: cut the fragment off first.
   */
  private async dropTornLine(handle: fs.promises.FileHandle): Promise<void> {
    const { size } = await handle.stat();
    if (size === 0) return;
    const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const lastNewline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (lastNewline >= 0) {
        const keep = start + lastNewline + 1;
        if (keep < size) await handle.truncate(keep);
        return;
      }
      end = start;
    }
    await handle.truncate(0);
  }

  async write(records: SinkRecord[]): Promise<SinkWriteResult> {
    const handle = this.handle!;
    const text = records
      .map((r) => JSON.stringify({ topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, schemaId: r.schemaId, headers: r.headers, value: r.value }))
      .join('\n');
    const bytes = Buffer.from(`${text}\n`);
    const { size } = await handle.stat();
    try {
      // One write may take only part of the bytes; resolving then would commit offsets of records cut in two.
      for (let written = 0; written < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, written);
        if (bytesWritten === 0) throw new Error(`no progress appending to ${this.file}`);
        written += bytesWritten;
      }
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
