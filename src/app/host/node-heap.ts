import { getHeapStatistics } from 'node:v8';

/**
 * The V8 old-space limit the service runs with, in MB (`--max-old-space-size`).
 *
 * Left alone, V8 sizes the limit from the machine's memory (4 GB on a 24 GB workstation), and the
 * limit also sets how far the heap may grow between full collections: near the top of the range V8
 * lets it reach about four times the live set, so work that keeps 30 MB alive shows 100 MB of heap
 * on a workstation and less on a machine with less memory. Pinning 1 GB gives the
 * service the same memory profile on every machine, and is still twenty times what the benchmarks
 * keep alive at their peak.
 */
export const serviceHeapMb = 1024;

/** The Node.js options the service process starts with: `npm start` and the benchmarks that run it. */
export const serviceNodeArgs: readonly string[] = [`--max-old-space-size=${serviceHeapMb}`];

/** The running process's V8 heap limit in MB, for the start-up line. */
export function heapLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024);
}
