import { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { loadConfig } from '../../src/app/config';
import { defineRoute } from '../../src/app/http/route';
import { resetServices, setServices, type Services } from '../../src/app/services';
import { ApiError } from '../../src/domain/errors';
import type { DocumentStore } from '../../src/domain/ports/document-store';
import { createLogger } from '../../src/adapters/logging/pino-logger';

const adminKey = 'route-test-admin-key-0123456789';

// Keys other than the configured admin key are looked up by id; this fake knows none.
const emptyKeyStore = { get: async () => undefined } as unknown as DocumentStore;

function installServices(): void {
  const services = {
    config: loadConfig({ ADMIN_API_KEY: adminKey }),
    logger: createLogger({ level: 'silent' }),
    clock: { now: () => new Date('2026-01-01T00:00:00Z') },
    store: emptyKeyStore,
  } as unknown as Services;
  setServices(services);
}

const seen: unknown[] = [];
const route = defineRoute({
  name: 'widgets-create',
  method: 'POST',
  route: 'widgets/{id}',
  auth: 'admin',
  summary: 'test route',
  tags: ['test'],
  params: z.strictObject({ id: z.string().regex(/^w\d+$/) }),
  query: z.strictObject({ dryRun: z.enum(['true', 'false']).optional() }),
  body: z.strictObject({ name: z.string().max(10), email: z.email() }),
  responses: { 201: { description: 'created' } },
  handler: async ({ params, body }) => {
    seen.push(body);
    if (body.name === 'taken') throw new ApiError('CONFLICT', `body.name: widget ${body.name} exists`);
    if (body.name === 'crash') throw new Error('unexpected detail that must not leak');
    return { status: 201, body: { id: params.id, ...body } };
  },
});

function request(init: { body?: string; headers?: Record<string, string>; id?: string; query?: Record<string, string> }): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `http://localhost/api/widgets/${init.id ?? 'w1'}`,
    params: { id: init.id ?? 'w1' },
    query: init.query ?? {},
    headers: { 'content-type': 'application/json', 'x-api-key': adminKey, ...init.headers },
    ...(init.body === undefined ? {} : { body: { string: init.body } }),
  });
}

async function call(init: Parameters<typeof request>[0]): Promise<{ status: number; body: { error?: { code: string; message: string; details?: Array<{ field: string }> } } & Record<string, unknown> }> {
  const response = await route.handler(request(init), new InvocationContext({ functionName: 'widgets-create', logHandler: () => undefined }));
  return { status: response.status ?? 200, body: JSON.parse(String(response.body ?? '{}')) };
}

describe('defineRoute', () => {
  beforeEach(() => {
    seen.length = 0;
    installServices();
  });
  afterAll(() => resetServices());

  it('validates and calls the handler with typed input', async () => {
    const result = await call({ body: JSON.stringify({ name: 'a', email: 'a@b.co' }) });
    expect(result.status).toBe(201);
    expect(result.body).toEqual({ id: 'w1', name: 'a', email: 'a@b.co' });
  });

  it.each([
    ['malformed JSON', { body: '{"name":' }, 400, 'VALIDATION_FAILED', 'body'],
    ['unknown field', { body: JSON.stringify({ name: 'a', email: 'a@b.co', admin: true }) }, 400, 'VALIDATION_FAILED', 'body.admin'],
    ['bad email', { body: JSON.stringify({ name: 'a', email: 'nope' }) }, 400, 'VALIDATION_FAILED', 'body.email'],
    ['over-long string', { body: JSON.stringify({ name: 'x'.repeat(11), email: 'a@b.co' }) }, 400, 'VALIDATION_FAILED', 'body.name'],
    ['wrong type', { body: JSON.stringify({ name: 5, email: 'a@b.co' }) }, 400, 'VALIDATION_FAILED', 'body.name'],
    ['bad path parameter', { id: 'x', body: JSON.stringify({ name: 'a', email: 'a@b.co' }) }, 400, 'VALIDATION_FAILED', 'params.id'],
    ['unknown query parameter', { query: { force: '1' }, body: JSON.stringify({ name: 'a', email: 'a@b.co' }) }, 400, 'VALIDATION_FAILED', 'query.force'],
    ['a body over 256 KB', { body: JSON.stringify({ name: 'a', email: 'a@b.co', pad: 'x'.repeat(300_000) }) }, 413, 'PAYLOAD_TOO_LARGE', 'body'],
    ['a declared length over 256 KB', { headers: { 'content-length': String(1024 * 1024) }, body: '{}' }, 413, 'PAYLOAD_TOO_LARGE', 'body'],
  ])('refuses %s with the error shape naming the field, without calling the handler', async (_name, init, status, code, field) => {
    const result = await call(init);
    expect(result.status).toBe(status);
    expect(result.body.error?.code).toBe(code);
    expect(result.body.error?.message).toContain(field);
    expect(result.body.error?.details?.[0]?.field.startsWith(field)).toBe(true);
    expect(seen).toHaveLength(0);
  });

  it('answers 401 without a key or with a wrong key', async () => {
    expect((await call({ headers: { 'x-api-key': '' }, body: '{}' })).body.error?.code).toBe('UNAUTHENTICATED');
    const wrong = await call({ headers: { 'x-api-key': 'm365b_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, body: '{}' });
    expect(wrong.status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('maps expected errors to their status and hides unexpected ones', async () => {
    const conflict = await call({ body: JSON.stringify({ name: 'taken', email: 'a@b.co' }) });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toEqual({ code: 'CONFLICT', message: 'body.name: widget taken exists' });
    const crash = await call({ body: JSON.stringify({ name: 'crash', email: 'a@b.co' }) });
    expect(crash.status).toBe(500);
    expect(crash.body.error?.code).toBe('INTERNAL');
    expect(JSON.stringify(crash.body)).not.toContain('unexpected detail');
  });

  it('documents the route from the same schemas', () => {
    expect(route.doc).toMatchObject({ method: 'POST', route: 'widgets/{id}', auth: 'admin' });
    expect(route.doc?.body).toBeDefined();
  });
});
