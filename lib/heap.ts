import v8 from 'node:v8';

/**
 * How far V8 lets the heap grow past what was live at the last full collection before collecting again. Left
 * to itself, V8 grows it by up to 4× under a high allocation rate, and a gateway that parses large bodies
 * allocates fast: garbage text, parsed records and the Buffers they hold (freed only with their JS objects)
 * pile up to hundreds of MB before the next full GC. A fixed factor of 1 + percent/100 keeps the peak near
 * what is in use, for a few more full collections. Read by V8 at every collection, so it applies at run time;
 * 0 leaves V8's own policy. (The young generation's size, `--max-semi-space-size`, is fixed when the process
 * starts: set it with NODE_OPTIONS.)
 */
export function applyHeapGrowing(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
