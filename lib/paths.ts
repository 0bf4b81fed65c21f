import fs from 'node:fs';
import path from 'node:path';

function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'catalog'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the govx project root above ${start}`);
    dir = parent;
  }
}

/** The project root, whether running from sources (ts-jest) or from dist/. Data files (SQL, .avsc, YAML) are read from here. */
export const projectRoot = findProjectRoot(__dirname);
export const projectPath = (...parts: string[]): string => path.join(projectRoot, ...parts);
