import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { serviceNodeArgs } from '../../src/app/host/node-heap';

/** The repository root, where `npm start` runs. */
export const repoRoot = path.resolve(__dirname, '../..');
const entry = path.join(repoRoot, 'dist/src/app/host/main.js');

export interface HostProcess {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Starts the real `npm start` entry point (built) as a child process with extra environment. */
export function startHostProcess(env: Record<string, string>): HostProcess {
  const child = spawn(process.execPath, [...serviceNodeArgs, entry], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
