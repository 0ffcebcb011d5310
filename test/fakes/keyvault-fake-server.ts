import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loopbackCertificatePem, loopbackPrivateKeyPem } from '../../src/adapters/sandbox/loopback-tls';

/*
 * A loopback HTTPS stand-in for the Key Vault secrets data plane, limited to what @azure/keyvault-secrets
 * sends for get/set/delete/purge/recover. It mirrors the service where our adapter depends on it:
 * challenge-based bearer auth, case-insensitive names checked against ^[0-9a-zA-Z-]{1,127}$, soft delete
 * (a deleted name stays reserved until purged: 409 ObjectIsDeletedButRecoverable), operations that finish
 * asynchronously (409 ObjectIsBeingDeleted / ObjectIsBeingRecovered meanwhile), and `exp` that is stored
 * and returned but not enforced on reads, as the real service does.
 */

export interface KeyVaultFakeOptions {
  /** Purge answers 403, as in a vault with purge protection or for a caller without purge permission. */
  readonly purgeProtection?: boolean;
  /** How long deletes, purges and recoveries take to complete (default 0: at once). */
  readonly operationLatencyMs?: number;
}

export interface KeyVaultFakeRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface KeyVaultFake {
  /** `https://127.0.0.1:<port>`; its certificate is `loopbackCertificatePem`. */
  readonly vaultUrl: string;
  readonly tenantId: string;
  /** The only bearer token the fake accepts. */
  readonly accessToken: string;
  /** Every request answered, in order. */
  readonly requests: readonly KeyVaultFakeRequest[];
  /** Names of the active secrets, as first written. */
  activeSecretNames(): string[];
  /** Names of the soft-deleted (recoverable) secrets. */
  deletedSecretNames(): string[];
  close(): Promise<void>;
}

const NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;
const API_VERSION_PATTERN = /^(7\.\d+|\d{4}-\d{2}-\d{2})(-preview)?$/;
const MAX_VALUE_BYTES = 25 * 1024;
const RECOVERABLE_DAYS = 90;

interface SecretVersion {
  readonly version: string;
  readonly value: string;
  readonly contentType: string | undefined;
  readonly tags: Record<string, string> | undefined;
  readonly enabled: boolean;
  readonly nbf: number | undefined;
  readonly exp: number | undefined;
  readonly created: number;
}

interface NameRecord {
  readonly name: string;
  versions: SecretVersion[];
  state: 'active' | 'deleted' | 'purged';
  deletedDate: number;
  transition: { readonly kind: 'deleting' | 'purging' | 'recovering'; readonly untilMs: number } | undefined;
}

class FakeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
  ) {
    super(message);
  }
}

export async function startKeyVaultFake(options: KeyVaultFakeOptions = {}): Promise<KeyVaultFake> {
  const latencyMs = options.operationLatencyMs ?? 0;
  const recoveryLevel = options.purgeProtection ? 'Recoverable' : 'Recoverable+Purgeable';
  const tenantId = '72f988bf-0000-4000-8000-00000000fa4e';
  const accessToken = `fake-kv-token-${randomBytes(8).toString('hex')}`;
  const names = new Map<string, NameRecord>();
  const requests: KeyVaultFakeRequest[] = [];
  let vaultUrl = '';

  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  /** The record for a name with any finished transition applied; undefined once purged. */
  function lookup(name: string): NameRecord | undefined {
    const key = name.toLowerCase();
    const record = names.get(key);
    if (record?.transition !== undefined && Date.now() >= record.transition.untilMs) {
      record.transition = undefined;
      if (record.state === 'purged') {
        names.delete(key);
        return undefined;
      }
    }
    return record;
  }

  function startTransition(record: NameRecord, kind: 'deleting' | 'purging' | 'recovering'): void {
    record.transition = { kind, untilMs: Date.now() + latencyMs };
  }

  function secretBundle(record: NameRecord, version: SecretVersion, withValue: boolean): Record<string, unknown> {
    return {
      ...(withValue ? { value: version.value } : {}),
      id: `${vaultUrl}/secrets/${record.name}/${version.version}`,
      ...(version.contentType === undefined ? {} : { contentType: version.contentType }),
      ...(version.tags === undefined ? {} : { tags: version.tags }),
      attributes: {
        enabled: version.enabled,
        ...(version.nbf === undefined ? {} : { nbf: version.nbf }),
        ...(version.exp === undefined ? {} : { exp: version.exp }),
        created: version.created,
        updated: version.created,
        recoverableDays: RECOVERABLE_DAYS,
        recoveryLevel,
      },
    };
  }

  function current(record: NameRecord): SecretVersion {
    const latest = record.versions[record.versions.length - 1];
    if (latest === undefined) throw new Error(`fake invariant broken: ${record.name} has no version`);
    return latest;
  }

  function notFound(name: string): FakeHttpError {
    return new FakeHttpError(
      404,
      'SecretNotFound',
      `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.`,
    );
  }

  function conflictFor(record: NameRecord, action: string): FakeHttpError | undefined {
    switch (record.transition?.kind) {
      case 'deleting':
      case 'purging':
        return new FakeHttpError(409, 'Conflict', `Secret ${record.name} is currently being deleted and cannot be ${action}; retry later.`, 'ObjectIsBeingDeleted');
      case 'recovering':
        return new FakeHttpError(409, 'Conflict', `Secret ${record.name} is currently being recovered and cannot be ${action}; retry later.`, 'ObjectIsBeingRecovered');
      default:
        return undefined;
    }
  }

  function setSecret(name: string, body: unknown): Record<string, unknown> {
    const parameters = parseSetParameters(body);
    let record = lookup(name);
    if (record !== undefined) {
      const conflict = conflictFor(record, 're-created');
      if (conflict) throw conflict;
      if (record.state === 'deleted') {
        throw new FakeHttpError(
          409,
          'Conflict',
          `Secret ${record.name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
          'ObjectIsDeletedButRecoverable',
        );
      }
    } else {
      record = { name, versions: [], state: 'active', deletedDate: 0, transition: undefined };
      names.set(name.toLowerCase(), record);
    }
    const version: SecretVersion = { ...parameters, version: randomBytes(16).toString('hex'), created: nowSeconds() };
    record.versions.push(version);
    return secretBundle(record, version, true);
  }

  function getSecret(name: string, versionId: string): Record<string, unknown> {
    const record = lookup(name);
    if (record === undefined || record.state !== 'active' || record.transition?.kind === 'recovering') throw notFound(name);
    const version = versionId === '' ? current(record) : record.versions.find((v) => v.version === versionId);
    if (version === undefined) throw notFound(`${name}/${versionId}`);
    return secretBundle(record, version, true);
  }

  function deletedBundle(record: NameRecord): Record<string, unknown> {
    return {
      recoveryId: `${vaultUrl}/deletedsecrets/${record.name}`,
      deletedDate: record.deletedDate,
      scheduledPurgeDate: record.deletedDate + RECOVERABLE_DAYS * 86_400,
      ...secretBundle(record, current(record), false),
    };
  }

  function deleteSecret(name: string): Record<string, unknown> {
    const record = lookup(name);
    if (record === undefined || record.state !== 'active') throw notFound(name);
    const conflict = conflictFor(record, 'deleted');
    if (conflict) throw conflict;
    record.state = 'deleted';
    record.deletedDate = nowSeconds();
    startTransition(record, 'deleting');
    return deletedBundle(record);
  }

  function getDeletedSecret(name: string): Record<string, unknown> {
    const record = lookup(name);
    // While the delete is still running, the deleted secret is not visible yet.
    if (record === undefined || record.state !== 'deleted' || record.transition !== undefined) {
      throw new FakeHttpError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    }
    return deletedBundle(record);
  }

  function purgeDeletedSecret(name: string): void {
    const record = lookup(name);
    if (record === undefined || record.state !== 'deleted') throw new FakeHttpError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    if (options.purgeProtection) {
      throw new FakeHttpError(
        403,
        'Forbidden',
        'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.',
      );
    }
    if (record.transition !== undefined) throw new FakeHttpError(409, 'Conflict', 'Secret is currently being deleted.', 'ObjectIsBeingDeleted');
    record.state = 'purged';
    record.versions = [];
    startTransition(record, 'purging');
  }

  function recoverDeletedSecret(name: string): Record<string, unknown> {
    const record = lookup(name);
    if (record === undefined || record.state !== 'deleted') throw new FakeHttpError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    const conflict = conflictFor(record, 'recovered');
    if (conflict) throw conflict;
    record.state = 'active';
    startTransition(record, 'recovering');
    return secretBundle(record, current(record), false);
  }

  function route(method: string, segments: string[], body: unknown): { status: number; body?: unknown } {
    const [collection, rawName, rest, ...extra] = segments;
    if (rawName === undefined || extra.length > 0) throw unsupported(method, segments);
    const name = decodeSegment(rawName);
    if (!NAME_PATTERN.test(name)) throw new FakeHttpError(400, 'BadParameter', `The request URI contains an invalid name: ${name}`);
    if (collection === 'secrets') {
      if (method === 'PUT' && rest === undefined) return { status: 200, body: setSecret(name, body) };
      if (method === 'GET') return { status: 200, body: getSecret(name, rest === undefined ? '' : decodeSegment(rest)) };
      if (method === 'DELETE' && rest === undefined) return { status: 200, body: deleteSecret(name) };
    }
    if (collection === 'deletedsecrets') {
      if (method === 'GET' && rest === undefined) return { status: 200, body: getDeletedSecret(name) };
      if (method === 'DELETE' && rest === undefined) {
        purgeDeletedSecret(name);
        return { status: 204 };
      }
      if (method === 'POST' && rest === 'recover') return { status: 200, body: recoverDeletedSecret(name) };
    }
    throw unsupported(method, segments);
  }

  function authorised(request: IncomingMessage): boolean {
    return request.headers.authorization === `Bearer ${accessToken}`;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request);
    const url = new URL(request.url ?? '/', vaultUrl);
    const method = request.method ?? 'GET';
    let status: number;
    let payload: unknown;
    const headers: Record<string, string> = {};
    try {
      if (!authorised(request)) {
        headers['www-authenticate'] = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`;
        throw new FakeHttpError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.');
      }
      const apiVersion = url.searchParams.get('api-version');
      if (apiVersion === null || !API_VERSION_PATTERN.test(apiVersion)) {
        throw new FakeHttpError(400, 'BadParameter', 'The request must specify a supported api-version.');
      }
      const segments = url.pathname.split('/').slice(1);
      ({ status, body: payload } = route(method, segments, parseJson(raw)));
    } catch (error) {
      if (!(error instanceof FakeHttpError)) throw error;
      status = error.status;
      payload = { error: { code: error.code, message: error.message, ...(error.innerCode === undefined ? {} : { innererror: { code: error.innerCode } }) } };
    }
    requests.push({ method, path: url.pathname, status });
    if (payload === undefined) {
      response.writeHead(status, headers).end();
      return;
    }
    response.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(payload));
  }

  const server = createServer({ cert: loopbackCertificatePem, key: loopbackPrivateKeyPem }, (request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify({ error: { code: 'InternalError', message: String(error) } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  vaultUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    vaultUrl,
    tenantId,
    accessToken,
    requests,
    activeSecretNames: () =>
      [...names.keys()].flatMap((key) => {
        const record = lookup(key);
        return record?.state === 'active' ? [record.name] : [];
      }),
    deletedSecretNames: () =>
      [...names.keys()].flatMap((key) => {
        const record = lookup(key);
        return record?.state === 'deleted' ? [record.name] : [];
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function parseSetParameters(body: unknown): Omit<SecretVersion, 'version' | 'created'> {
  if (typeof body !== 'object' || body === null) throw new FakeHttpError(400, 'BadParameter', 'The request body must be a JSON object.');
  const { value, contentType, tags, attributes } = body as Record<string, unknown>;
  if (typeof value !== 'string') throw new FakeHttpError(400, 'BadParameter', 'Property value is required.');
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) throw new FakeHttpError(400, 'BadParameter', 'Secret value exceeds the maximum size of 25 KB.');
  const attrs = (typeof attributes === 'object' && attributes !== null ? attributes : {}) as Record<string, unknown>;
  return {
    value,
    contentType: typeof contentType === 'string' ? contentType : undefined,
    tags: typeof tags === 'object' && tags !== null ? (tags as Record<string, string>) : undefined,
    enabled: attrs.enabled !== false,
    nbf: typeof attrs.nbf === 'number' ? attrs.nbf : undefined,
    exp: typeof attrs.exp === 'number' ? attrs.exp : undefined,
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new FakeHttpError(400, 'BadParameter', `The request URI is malformed: ${segment}`);
  }
}

function unsupported(method: string, segments: string[]): FakeHttpError {
  return new FakeHttpError(400, 'BadParameter', `The fake does not serve ${method} /${segments.join('/')}`);
}

function parseJson(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new FakeHttpError(400, 'BadParameter', 'The request body is not valid JSON.');
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
