import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startSandbox, type SandboxHandle } from '../../src/adapters/sandbox/sandbox-server';
import type { Json } from './sandbox-call';

/**
 * The sandbox tenant in a child process, so the benchmark's own process measures only the service:
 * the child runs `run.js <bench> --sandbox-child <timeScale>` and answers named commands the
 * benchmark defines (seeding, making changes, reading its request log), with its CPU time.
 */
export type ChildCommands = Readonly<Record<string, (sandbox: SandboxHandle, payload: Json) => Promise<unknown>>>;

interface CommandRequest {
  readonly seq: number;
  readonly name: string;
  readonly payload: Json;
}

interface CommandReply {
  readonly seq: number;
  readonly value?: unknown;
  readonly error?: string;
  /** The child's CPU time so far (user + system), in microseconds. */
  readonly cpuMicros: number;
}

/** In the child: starts the sandbox and serves the commands until the parent disconnects. */
export async function serveSandbox(timeScale: number, commands: ChildCommands): Promise<void> {
  const sandbox = await startSandbox({ timeScale });
  process.on('message', (message: CommandRequest) => {
    const command = message.name === 'cpu' ? async () => undefined : commands[message.name];
    const reply = (value: unknown, error?: string): void => {
      const cpu = process.cpuUsage();
      process.send?.({ seq: message.seq, value, ...(error === undefined ? {} : { error }), cpuMicros: cpu.user + cpu.system } satisfies CommandReply);
    };
    if (command === undefined) {
      reply(undefined, `no command ${message.name}`);
      return;
    }
    command(sandbox, message.payload).then(
      (value) => reply(value),
      (error: unknown) => reply(undefined, error instanceof Error ? (error.stack ?? error.message) : String(error)),
    );
  });
  process.send?.({ url: sandbox.url });
  process.on('disconnect', () => void sandbox.close().then(() => process.exit(0)));
}

/**
 * A benchmark's entry in the child that `startSandboxProcess` forks (`run.js <bench> --sandbox-child
 * <timeScale>`): serves the sandbox with the benchmark's commands and says so; anywhere else, false.
 */
export async function servedAsSandboxChild(args: readonly string[], commands: ChildCommands): Promise<boolean> {
  if (args[0] !== '--sandbox-child') return false;
  await serveSandbox(Number(args[1]), commands);
  return true;
}

export interface SandboxProcess {
  readonly url: string;
  command<T = Json>(name: string, payload?: Json): Promise<T>;
  /** The child's CPU time so far (sandbox and whatever its commands did), in microseconds. */
  cpuMicros(): Promise<number>;
  stop(): void;
}

/** In the benchmark: forks the child of `benchName` and waits until its sandbox listens. */
export function startSandboxProcess(benchName: string, timeScale: number): Promise<SandboxProcess> {
  const child: ChildProcess = fork(path.join(__dirname, '..', 'run.js'), [benchName, '--sandbox-child', String(timeScale)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (reply: CommandReply) => void>();
  let seq = 0;
  const send = (name: string, payload: Json): Promise<CommandReply> =>
    new Promise((done) => {
      seq += 1;
      waiting.set(seq, done);
      child.send({ seq, name, payload } satisfies CommandRequest);
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the sandbox process exited with ${code ?? 'a signal'}`)));
    child.on('message', (message: { url: string } | CommandReply) => {
      if ('url' in message) {
        resolve({
          url: message.url,
          command: async <T>(name: string, payload?: Json) => {
            const reply = await send(name, payload);
            if (reply.error !== undefined) throw new Error(`sandbox command ${name} failed: ${reply.error}`);
            return reply.value as T;
          },
          cpuMicros: async () => (await send('cpu', undefined)).cpuMicros,
          stop: () => child.disconnect(),
        });
        return;
      }
      waiting.get(message.seq)?.(message);
      waiting.delete(message.seq);
    });
  });
}

/** Runs `task` over `items` with at most `concurrency` at once. */
export async function pool<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next;
        next += 1;
        await task(items[index] as T, index);
      }
    }),
  );
}

/** The p-th percentile of ascending numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** A tenant the benchmarks add: `admin@<domain>` is its Global Administrator. */
export interface BenchTenant {
  readonly id: string;
  readonly name: string;
  readonly domain: string;
  readonly adminUpn: string;
}

/** A child command: adds `count` tenants (`bench01.test`...) with `users` generated users each. */
export async function addBenchTenants(sandbox: SandboxHandle, payload: { count: number; users: number }): Promise<BenchTenant[]> {
  const tenants: BenchTenant[] = [];
  for (let i = 1; i <= payload.count; i += 1) {
    const name = `bench${String(i).padStart(2, '0')}`;
    const domain = `${name}.test`;
    const added = sandbox.control.addTenant(name, domain);
    if (payload.users > 0) sandbox.control.seedUsers(added.id, payload.users, `${name}.user`);
    tenants.push({ id: added.id, name, domain, adminUpn: `admin@${domain}` });
  }
  return tenants;
}

/** Admin API calls a child makes for the benchmark, so their client-side cost is not the service's. */
export interface DrivePayload {
  readonly baseUrl: string;
  readonly adminKey: string;
  readonly calls: readonly { readonly method: string; readonly path: string; readonly json?: unknown }[];
  readonly concurrency: number;
  readonly keepBodies?: boolean;
}

export interface DriveResult {
  readonly status: number;
  readonly startedAtMs: number;
  readonly body?: Json;
}

/** A child command: makes the calls, `concurrency` at a time, and answers each status (and body if asked). */
export async function driveApi(_sandbox: SandboxHandle, payload: DrivePayload): Promise<DriveResult[]> {
  const results = new Array<DriveResult>(payload.calls.length);
  await pool(payload.calls, payload.concurrency, async (call, i) => {
    const startedAtMs = Date.now();
    const response = await fetch(`${payload.baseUrl}/${call.path}`, {
      method: call.method,
      headers: { 'x-api-key': payload.adminKey, ...(call.json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(call.json === undefined ? {} : { body: JSON.stringify(call.json) }),
    });
    const text = await response.text();
    results[i] = { status: response.status, startedAtMs, ...(payload.keepBodies === true && text !== '' ? { body: JSON.parse(text) as Json } : {}) };
  });
  return results;
}
