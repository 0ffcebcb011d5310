import { readdirSync } from 'node:fs';
import path from 'node:path';

/** What every `bench/<name>.ts` exports. */
interface Benchmark {
  run(args: string[]): Promise<void>;
}

function benchmarkNames(): string[] {
  return readdirSync(__dirname)
    .filter((file) => file.endsWith('.js') && file !== 'run.js')
    .map((file) => file.slice(0, -'.js'.length))
    .sort();
}

/** `node dist/bench/run.js <name> [args]`: loads `bench/<name>` and runs it. */
async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const names = benchmarkNames();
  if (name === undefined || !names.includes(name)) {
    process.stderr.write(`${name === undefined ? 'name a benchmark' : `no benchmark named "${name}"`}; available: ${names.join(', ')}\n`);
    process.exit(2);
  }
  const benchmark = (await import(path.join(__dirname, name))) as Benchmark;
  await benchmark.run(args);
}

main().catch((error: unknown) => {
  process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
