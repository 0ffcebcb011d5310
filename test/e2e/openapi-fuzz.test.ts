import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { functionTable } from '../../functions/table';
import { containerNames } from '../../src/domain/ports/document-store';
import { connectTenant } from '../functions/provisioning-support';
import { startTestHost, testAdminKey, type TestHost } from '../support/test-host';

/*
 * Malformed requests to every operation of the generated OpenAPI document, made by fast-check from
 * each operation's own schemas: wrong types, huge strings, deep nesting, control characters, lone
 * surrogates, bad percent-encoding, bogus cursors, invalid JSON, wrong content types, oversize
 * bodies. Whatever comes in, the service answers below 500, every 4xx carries the documented error
 * body, and a rejected request changes nothing in the store or the secret files.
 */

/** Requests in all; each operation gets its share. Override with FUZZ_REQUESTS for a longer run. */
const totalRequests = Number(process.env.FUZZ_REQUESTS ?? 2000);

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
};

interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required?: boolean;
  readonly schema?: JsonSchema;
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly parameters: readonly Parameter[];
  readonly body: JsonSchema | undefined;
  readonly keyed: boolean;
  readonly responses: Readonly<Record<string, { content?: Record<string, unknown> }>>;
}

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

function operationsOf(doc: { paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: JsonSchema }> }; security?: unknown[]; responses: Operation['responses'] }>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([route, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path: route,
      parameters: operation.parameters ?? [],
      body: operation.requestBody?.content['application/json']?.schema,
      keyed: (operation.security ?? []).length > 0,
      responses: operation.responses,
    })),
  );
}

// ---- values -------------------------------------------------------------------------------

/** Ids that exist (so validation gets past "not found"), filled in once the seed data is made. */
const knownIds: string[] = [];

const nest = (depth: number): unknown => {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? [value] : { a: value };
  return value;
};

const controlChars = fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 20 });
const loneSurrogates = fc.constantFrom('\ud800', 'a\udfffb', '\udbff\udbff', 'x\ud83d', '\ude00y');
const hugeStrings = fc.tuple(fc.constantFrom('x', ' ', '1', 'é', '😀', '%', '.'), fc.integer({ min: 300, max: 120_000 }), fc.constantFrom('', '!', '1', '@example.com')).map(([unit, n, tail]) => `1${unit.repeat(n)}${tail}`);
const oddStrings = fc.constantFrom('', ' ', 'null', 'undefined', '0x10', '+7', ' 5', '1e3', '-1', 'NaN', '__proto__', 'constructor', '../..', '%zz', '\u202e', '\ufeff', 'a\u0000b', '${x}', '<script>', "' OR 1=1 --");

/** Values of any wrong kind for a field. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  controlChars,
  loneSurrogates,
  hugeStrings,
  oddStrings,
  fc.integer({ min: 40, max: 3000 }).map(nest),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

function typesOf(schema: JsonSchema): string[] {
  return Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
}

/** A value the schema probably accepts, so the malformed part of a request is what gets judged. */
function plausible(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 4) return fc.constant('x');
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum !== undefined && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union !== undefined) return fc.oneof(...union.map((s) => plausible(s, depth + 1)));
  if (schema.allOf !== undefined && schema.allOf.length > 0) return plausible(schema.allOf[0], depth + 1);
  const types = typesOf(schema).filter((t) => t !== 'null');
  switch (types[0]) {
    case 'object': {
      const properties = schema.properties ?? {};
      const model = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, plausible(value, depth + 1)]));
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((key) => key in properties) });
    }
    case 'array':
      return fc.array(plausible(schema.items, depth + 1), { maxLength: 2 });
    case 'integer':
    case 'number':
      return fc.integer({ min: Math.max(schema.minimum ?? 0, -1000), max: Math.min(schema.maximum ?? 1000, 1000) });
    case 'boolean':
      return fc.boolean();
    case 'string':
      if (schema.format === 'email') return fc.constantFrom('fuzz@example.com', 'Fuzz.Two@contoso.com');
      return fc.constantFrom('x', 'Fuzz', 'a1', ...knownIds);
    default:
      return fc.constant('x');
  }
}

/** The schema's plausible object with one to three fields made hostile, or unknown ones added. */
function malformedObject(schema: JsonSchema): fc.Arbitrary<unknown> {
  const fields = Object.keys(schema.properties ?? {});
  const keys = fc.constantFrom(...fields, 'unknownField', '__proto__');
  return fc.tuple(plausible(schema), fc.array(fc.tuple(keys, hostile), { minLength: 1, maxLength: 3 })).map(([base, changes]) => {
    const value: Record<string, unknown> = typeof base === 'object' && base !== null ? { ...(base as Record<string, unknown>) } : {};
    for (const [key, bad] of changes) Object.defineProperty(value, key, { value: bad, enumerable: true, writable: true, configurable: true });
    return value;
  });
}

/** A body as bytes and its content type: most are JSON with hostile fields, the rest broken on the wire. */
function bodyOf(schema: JsonSchema | undefined): fc.Arbitrary<{ bytes: Buffer; contentType?: string }> {
  const objectSchema = schema ?? { type: 'object', properties: {} };
  const json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
  const asJson = (value: unknown) => ({ bytes: json(value), contentType: 'application/json' });
  return fc.oneof(
    { weight: 6, arbitrary: malformedObject(objectSchema).map(asJson) },
    { weight: 2, arbitrary: hostile.map(asJson) },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"a":}', 'nul', '[1,]', "{'a':1}", '{"a":1}}', '\u0000', '"\\ud800', '{"a":"\\x41"}', '1 2').map((text) => ({ bytes: Buffer.from(text), contentType: 'application/json' })) },
    {
      weight: 1,
      // The same key twice, with a valid value first: the second must not win.
      arbitrary: plausible(objectSchema).map((value) => {
        const text = JSON.stringify(value) ?? '{}';
        const first = /^\{("(?:[^"\\]|\\.)*"):/.exec(text);
        const duplicated = first === null ? '{"a":1,"a":2}' : `{${first[1]}:"x",${text.slice(1)}`;
        return { bytes: Buffer.from(duplicated), contentType: 'application/json' };
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(plausible(objectSchema), fc.constantFrom('text/plain', 'application/vnd.evil+json', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json, text/plain', 'application/jsonp', ''))
        .map(([value, contentType]) => ({ bytes: json(value), contentType })),
    },
    { weight: 1, arbitrary: plausible(objectSchema).map((value) => ({ bytes: Buffer.from(JSON.stringify(value) ?? '{}', 'utf16le'), contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ bytes: Buffer.from(bytes), contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.integer({ min: 256 * 1024 + 1, max: 400 * 1024 }).map((size) => ({ bytes: Buffer.from(`{"a":"${'x'.repeat(size)}"}`), contentType: 'application/json' })) },
  );
}

// ---- URLs ---------------------------------------------------------------------------------

/** Percent-encodes any JS string, lone surrogates included (as the bytes UTF-8 forbids for them). */
function percentEncode(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (code >= 0xd800 && code <= 0xdfff) out += `%ED%${(0x80 | ((code >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}`;
    else out += encodeURIComponent(ch);
  }
  return out;
}

const badEncodings = fc.constantFrom('%zz', '%', '%E0%A4', '%ED%A0%80', '%C0%AF', '%FF', '%00', '%2e%2e', 'a%2Fb', '%25', '%u0041');

const hostileText = fc.oneof(controlChars, loneSurrogates, hugeStrings.map((s) => s.slice(0, 6000)), oddStrings, fc.string({ maxLength: 30 }));

function segment(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('missing-id', ...knownIds).map(percentEncode) },
    { weight: 3, arbitrary: hostileText.map(percentEncode) },
    { weight: 2, arbitrary: badEncodings },
  );
}

const bogusCursors = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url')),
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([value, mac]) => `${Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url')}.${Buffer.from(mac).toString('base64url')}`),
  fc.constantFrom('bnVsbA', 'e30', 'W10', 'eyJ2IjoxfQ', '..', 'a.b.c', '.'.repeat(5000)),
);

function queryValue(parameter: Parameter): fc.Arbitrary<string> {
  const fromSchema = plausible(parameter.schema).map((value) => percentEncode(String(value)));
  const hostileValue = hostileText.map(percentEncode);
  const options = [fromSchema, hostileValue, badEncodings, fc.constantFrom('0x10', '+7', '%205', '1e1', '-0', '501', '99999999999999999999').map(String)];
  if (parameter.name === 'cursor') options.push(bogusCursors.map(percentEncode));
  return fc.oneof(...options);
}

function queryOf(operation: Operation): fc.Arbitrary<string> {
  const declared = operation.parameters.filter((p) => p.in === 'query');
  const pairs = declared.map((p) => fc.option(queryValue(p).map((value) => `${p.name}=${value}`), { nil: undefined }));
  const extra = fc.option(fc.oneof(fc.constantFrom('unknown=1', 'limit=1&limit=2', '%zz=1', '=', '&&', 'a'), hostileText.map((s) => `${percentEncode(s)}=1`)), { nil: undefined });
  return fc.tuple(fc.tuple(...pairs), extra).map(([chosen, more]) => [...chosen, more].filter((p): p is string => p !== undefined).join('&'));
}

function requestOf(operation: Operation): fc.Arbitrary<FuzzRequest> {
  const names = [...operation.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
  const segments = names.length === 0 ? fc.constant([] as string[]) : fc.tuple(...names.map(() => segment()));
  const takesBody = operation.method !== 'GET';
  const body = takesBody ? fc.option(bodyOf(operation.body), { nil: undefined, freq: 6 }) : fc.constant(undefined);
  // Mostly the admin key, so requests reach validation; some with a reader key, a wrong key or none.
  const key = fc.oneof({ weight: 8, arbitrary: fc.constant<string | undefined>(testAdminKey) }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, 'wrong', readerKey) });
  return fc.tuple(segments, queryOf(operation), body, key).map(([values, query, payload, apiKey]) => {
    let pathname = operation.path;
    names.forEach((name, index) => (pathname = pathname.replace(`{${name}}`, values[index] as string)));
    const headers: Record<string, string> = {};
    if (apiKey !== undefined) headers['x-api-key'] = apiKey;
    if (payload?.contentType !== undefined && payload.contentType !== '') headers['content-type'] = payload.contentType;
    return { method: operation.method, path: query === '' ? pathname : `${pathname}?${query}`, headers, ...(payload === undefined ? {} : { body: payload.bytes }) };
  });
}

// ---- the run ------------------------------------------------------------------------------

let host: TestHost;
let readerKey = '';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(request: FuzzRequest): Promise<Answer> {
  const { port } = new URL(host.url);
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ host: '127.0.0.1', port, agent, method: request.method, path: request.path, headers: { ...request.headers, ...(request.body === undefined ? {} : { 'content-length': String(request.body.length) }) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
    });
    // The server may answer (401, 413, 415) and close before it has read a body it refuses.
    outgoing.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? resolve({ status: -1, contentType: '', text: '' }) : reject(error)));
    outgoing.end(request.body);
  });
}

/** Everything a request could change: every document of every container, and the secret files. */
async function snapshot(): Promise<string> {
  const hash = createHash('sha256');
  for (const container of containerNames) {
    let cursor: string | undefined;
    do {
      const page = await host.services.store.query(container, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      for (const doc of page.items) hash.update(`${container}\n${doc.pk}\n${doc.id}\n${doc.etag}\n`);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  hash.update(readdirSync(path.join(host.dataDir, 'secrets')).sort().join('\n'));
  return hash.digest('hex');
}

function describeRequest(request: FuzzRequest): string {
  const body = request.body === undefined ? '' : ` body(${request.body.length} bytes)=${request.body.subarray(0, 200).toString('utf8')}`;
  return `${request.method} ${request.path.slice(0, 300)} ${JSON.stringify(request.headers)}${body}`;
}

describe('fuzzing every operation of the OpenAPI document', () => {
  let operations: Operation[];
  let sent = 0;

  beforeAll(async () => {
    // HTTP functions only: no queue handler runs behind the requests, so the store changes only by them.
    host = await startTestHost({ functions: functionTable.filter((definition) => definition.kind === 'http') });
    const created = await host.api('keys', { method: 'POST', json: { name: 'reader', role: 'reader' } });
    readerKey = ((await created.json()) as { key: string }).key;
    const connection = await connectTenant(host);
    const user = (await (await host.api('users', { method: 'POST', json: { email: 'seed@contoso.com', firstName: 'Seed' } })).json()) as { id: string };
    const group = (await (await host.api('groups', { method: 'POST', json: { name: 'Seed group' } })).json()) as { id: string };
    knownIds.push(connection.id as string, user.id, group.id);
    const doc = (await (await fetch(`${host.url}/openapi.json`)).json()) as Parameters<typeof operationsOf>[0];
    operations = operationsOf(doc);
  }, 60_000);
  afterAll(async () => {
    agent.destroy();
    await host.close();
  });

  it('covers every HTTP function of the table', () => {
    const documented = new Set(operations.map((o) => `${o.method} ${o.path}`));
    const served = functionTable.flatMap((d) => (d.kind === 'http' && d.site !== true ? d.methods.map((m) => `${m} /api/${d.route}`) : []));
    expect(served.filter((route) => !documented.has(route))).toEqual([]);
  });

  it('answers malformed requests below 500 with the documented error body, changing nothing when it refuses', async () => {
    const perOperation = Math.max(20, Math.ceil(totalRequests / operations.length));
    let current = await snapshot();
    for (const operation of operations) {
      await fc.assert(
        fc.asyncProperty(requestOf(operation), async (request) => {
          // Nothing runs behind the requests, so the state after one request is the state before the next.
          const before = current;
          const answer = await send(request);
          sent += 1;
          const what = describeRequest(request);
          current = await snapshot();
          if (answer.status === -1) {
            // Refused and closed mid-upload.
            expect([what, current]).toEqual([what, before]);
            return;
          }
          expect([what, answer.status < 500]).toEqual([what, true]);
          if (answer.status >= 400) {
            const documented = operation.responses[String(answer.status)]?.content ?? {};
            const isJson = answer.contentType.startsWith('application/json');
            if (isJson || !Object.keys(documented).some((type) => answer.contentType.startsWith(type))) {
              const body = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
              expect([what, typeof body.error?.code, typeof body.error?.message]).toEqual([what, 'string', 'string']);
            }
            expect([what, current]).toEqual([what, before]);
          }
        }),
        {
          numRuns: perOperation,
          endOnFailure: true,
          // The default report prints whole counterexamples, some of them hundreds of kilobytes.
          reporter: (details) => {
            if (details.failed) throw new Error(`${details.counterexample === null ? '' : describeRequest(details.counterexample[0])} (seed ${details.seed}): ${String(details.errorInstance).slice(0, 2000)}`);
          },
        },
      );
    }
    expect(sent).toBeGreaterThanOrEqual(Math.min(totalRequests, perOperation * operations.length));
  }, 240_000);
});
