import https from 'node:https';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { loopbackCertificatePem } from './loopback-tls';

let sharedAgent: https.Agent | undefined;

/** A keep-alive agent that trusts the sandbox's loopback certificate (and nothing else extra). */
export function sandboxHttpsAgent(): https.Agent {
  sharedAgent ??= new https.Agent({ ca: loopbackCertificatePem, keepAlive: true });
  return sharedAgent;
}

function request<T>(url: string, method: 'GET' | 'POST', options: NetworkRequestOptions | undefined, timeoutMs: number | undefined): Promise<NetworkResponse<T>> {
  return new Promise((resolve, reject) => {
    const body = method === 'POST' ? (options?.body ?? '') : undefined;
    const headers: Record<string, string | number> = { ...(options?.headers ?? {}) };
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const req = https.request(url, { method, headers, agent: sandboxHttpsAgent(), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const responseHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
        try {
          resolve({ status: res.statusCode ?? 0, headers: responseHeaders, body: (text === '' ? {} : JSON.parse(text)) as T });
        } catch (error) {
          reject(new Error(`sandbox authority answered ${res.statusCode ?? 0} with a body that is not JSON`, { cause: error }));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request to the sandbox authority timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * msal-node's network client for the sandbox authority: msal-node 7 uses global fetch, which
 * cannot be told to trust one extra CA, so this client goes through {@link sandboxHttpsAgent}.
 */
export function createSandboxNetworkClient(): INetworkModule {
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions, timeout?: number) => request<T>(url, 'GET', options, timeout),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => request<T>(url, 'POST', options, undefined),
  };
}
