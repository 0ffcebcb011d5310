import https from 'node:https';
import { sandboxHttpsAgent } from '../../src/adapters/sandbox/sandbox-trust';

// Decoded JSON is read field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** One HTTPS request to the sandbox tenant (control API or Graph), trusting its loopback certificate. */
export function sandboxCall(url: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Json }> {
  return new Promise((resolve, reject) => {
    const data = init.body === undefined ? undefined : JSON.stringify(init.body);
    const headers: Record<string, string> = {};
    if (data !== undefined) headers['content-type'] = 'application/json';
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    const req = https.request(url, { method: init.method ?? (data === undefined ? 'GET' : 'POST'), headers, agent: sandboxHttpsAgent() }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Json = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // Not JSON (an HTML page): kept as text.
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}
