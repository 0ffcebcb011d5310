import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serviceHeapMb, serviceNodeArgs } from '../../src/app/host/node-heap';

const root = path.join(__dirname, '..', '..');

describe('the service heap limit', () => {
  it('is what npm start passes to node, so the benchmarks run the service as npm start does', () => {
    const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    // exec: the shell npm runs the script in becomes node, so a signal npm forwards reaches the service.
    expect(scripts.start).toBe(`exec node ${serviceNodeArgs.join(' ')} dist/src/app/host/main.js`);
  });

  it('gives a process started with those options a V8 heap limit of that size', () => {
    const limit = execFileSync(process.execPath, [...serviceNodeArgs, '-e', "process.stdout.write(String(require('node:v8').getHeapStatistics().heap_size_limit))"], { encoding: 'utf8' });
    // The limit is old space plus the young generation's share.
    expect(Number(limit) / 1024 / 1024).toBeGreaterThanOrEqual(serviceHeapMb);
    expect(Number(limit) / 1024 / 1024).toBeLessThan(serviceHeapMb + 128);
  });
});
