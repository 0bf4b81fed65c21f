import fs from 'node:fs';
import path from 'node:path';
import { ConnectorFailure } from './runtime/retry';

/** The directory file connectors are confined to (GOVX_CONNECT_FILE_ROOT, relative to the working directory). */
export const connectFileRoot = (config: { connectFileRoot: string }): string => path.resolve(config.connectFileRoot);

/** `p` (relative to `root`, or absolute) lies inside `root` by its name; checked when a config is submitted. */
export function insideRoot(root: string, p: string): boolean {
  const resolved = path.resolve(root, p);
  const rel = path.relative(path.resolve(root), resolved);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Inside `root` once symbolic links are resolved: a link must not lead a connector out of its file root. */
export async function assertInsideRoot(root: string, target: string, key: string): Promise<void> {
  const realRoot = await fs.promises.realpath(root).catch(() => path.resolve(root));
  const real = await fs.promises.realpath(target);
  const rel = path.relative(realRoot, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new ConnectorFailure(`${key}: ${target} leads outside the connector file root`);
}
