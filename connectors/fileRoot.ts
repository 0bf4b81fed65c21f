import fs from 'node:fs';
import path from 'node:path';
import { ConnectorFailure } from './runtime/retry';

/** The directory file connectors are confined to (GOVX_CONNECT_FILE_ROOT, relative to the working directory). */
export const connectFileRoot = (config: { connectFileRoot: string }): string => path.resolve(config.connectFileRoot);

/**
 * A department's own directory under the file root: its file connectors' paths are relative to it and
 * may not leave it, so no department reads or writes another's files.
 */
export const departmentFileRoot = (root: string, department: string): string => path.join(root, department);

/** `p` (relative to `root`, or absolute) lies inside `root` by its name; checked when a config is submitted. */
export function insideRoot(root: string, p: string): boolean {
  const resolved = path.resolve(root, p);
  const rel = path.relative(path.resolve(root), resolved);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (what it would be once created). */
async function realPathOrAncestor(p: string): Promise<string> {
  const rest: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    try {
      return path.join(await fs.promises.realpath(at), ...rest.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const parent = path.dirname(at);
      if (parent === at) return path.resolve(p);
      rest.push(path.basename(at));
      at = parent;
    }
  }
}

/** Inside `root` once symbolic links are resolved: a link must not lead a connector out of its directory. */
export async function assertInsideRoot(root: string, target: string, key: string): Promise<void> {
  const realRoot = await realPathOrAncestor(root);
  const real = await realPathOrAncestor(target);
  const rel = path.relative(realRoot, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new ConnectorFailure(`${key}: the path leads outside the department's connector directory`);
}
