import path from 'node:path';
import { readFileSync } from 'node:fs';

/** The rows of the first Markdown table under `heading` in the README, cells trimmed. */
export function readmeTable(heading: string): string[][] {
  const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no heading ${heading}`);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split('|').map((cell) => cell.trim()));
  }
  return rows;
}

/** README "Work queues": each queue and whether the table says it is session-enabled. */
export function readmeQueues(): Map<string, boolean> {
  return new Map(readmeTable('### Work queues').map(([queue = '', sessions = '']) => [queue.replace(/`/g, ''), /^yes\b/.test(sessions)]));
}
