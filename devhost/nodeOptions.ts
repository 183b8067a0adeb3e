/**
 * Node options for the devhost process, given by whatever launches it (`npm start`, the test and
 * bench harness): `node <options> dist/devhost/cli.js start ...`. A heap size set in NODE_OPTIONS
 * is left to stand.
 *
 * `--max-old-space-size=1024`: V8 lets a heap grow before a full collection by a factor it takes
 * from the heap's ceiling, and the default ceiling is a quarter of the machine's memory (4 GB on
 * a 24 GB machine). Under it devhost's thread, whose live data is ~70 MB, let garbage pile up to a
 * 218 MB heap before its first full collection (most of it Azurite's per-request garbage), and
 * each page worker to ~60 MB of old space (page workers now set their own ceiling, see
 * activities/pageWorkers.ts). With 1 GB, which is also
 * about what a 1.5 GB Azure Functions Consumption instance gives its worker process, the
 * pricing bench's peak RSS at 3M rows fell from 648 MB to 543 MB, at the price of more concurrent
 * marking (V8's helper threads 4.3-4.6 s each instead of 2.5-2.8 s over the run, mostly on the
 * otherwise idle share of the two cores). A gigabyte is still over ten times devhost's live data.
 */
const HEAP_CEILING = '--max-old-space-size=1024';

/**
 * The options to launch devhost with: none that the user already chose (a heap size in
 * NODE_OPTIONS wins over ours, since command-line flags would win over NODE_OPTIONS).
 */
export function devhostNodeOptions(env: NodeJS.ProcessEnv = process.env): string[] {
  return /--max-old-space-size\b/.test(env.NODE_OPTIONS ?? '') ? [] : [HEAP_CEILING];
}
