import { main } from '../../cli';

/** Runs `govx ...args` in this process and returns what it printed and the exit code it set. */
export async function govx(...args: string[]): Promise<{ out: string; exitCode: number }> {
  const chunks: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    await main(['node', 'govx', ...args]);
    return { out: chunks.join(''), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    write.mockRestore();
    process.exitCode = before;
  }
}
