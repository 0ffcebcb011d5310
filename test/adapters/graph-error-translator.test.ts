import { GraphClientError, GraphError } from '@microsoft/microsoft-graph-client';
import { carry, classifyGraphResponse, GraphRequestError, parseRetryAfterMs, translateGraphError } from '../../src/adapters/graph/graph-error-translator';

const duplicateUpn = {
  error: {
    code: 'Request_BadRequest',
    message: 'Another object with the same value for property userPrincipalName already exists.',
    details: [{ target: 'userPrincipalName', code: 'ObjectConflict' }],
    innerError: { date: '2026-01-01T00:00:00', 'request-id': 'r', 'client-request-id': 'c' },
  },
};
const memberExists = { error: { code: 'Request_BadRequest', message: "One or more added object references already exist for the following modified properties: 'members'." } };
const throttled = { error: { code: 'TooManyRequests', message: 'Please retry again later.', innerError: { code: '429' } } };

/** A GraphError as the SDK builds it from a failed response. */
function sdkError(status: number, body: { error: unknown }, headers: Record<string, string> = {}): GraphError {
  const error = new GraphError(status, (body.error as { message?: string }).message);
  error.code = (body.error as { code?: string }).code ?? null;
  error.body = JSON.stringify(body.error);
  error.headers = new Headers(headers);
  return error;
}

describe('Graph error translator', () => {
  it.each([
    [429, 'transient'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
    [408, 'transient'],
    [409, 'transient'],
    [412, 'transient'],
    [400, 'exists'],
    [422, 'bad_request'],
    [401, 'stop'],
    [403, 'stop'],
    [404, 'not_found'],
    [410, 'delta_expired'],
  ] as const)('classifies status %i as %s (the body is read for 400s only)', (status, code) => {
    // The body claims a conflict everywhere: only a 400 may be read as "exists".
    expect(classifyGraphResponse(status, duplicateUpn, undefined).code).toBe(code);
  });

  it('reads ObjectConflict and "already exist" 400s as exists, with the code and message of Graph', () => {
    const exists = classifyGraphResponse(400, duplicateUpn, undefined);
    expect(exists).toMatchObject({ code: 'exists', status: 400, graphCode: 'Request_BadRequest', message: 'Graph 400 Request_BadRequest: Another object with the same value for property userPrincipalName already exists.' });
    expect(classifyGraphResponse(400, memberExists, undefined).code).toBe('exists');
    expect(classifyGraphResponse(400, { error: { code: 'Request_BadRequest', message: "Invalid value specified for property 'mailNickname' of resource 'User'." } }, undefined)).toMatchObject({ code: 'bad_request', graphCode: 'Request_BadRequest' });
    expect(classifyGraphResponse(400, 'not json', undefined).code).toBe('bad_request');
  });

  it('reads an expired delta token as delta_expired', () => {
    expect(classifyGraphResponse(400, { error: { code: 'syncStateNotFound', message: 'expired' } }, undefined).code).toBe('delta_expired');
  });

  it('carries Retry-After on transient errors, in seconds or as a date', () => {
    expect(classifyGraphResponse(429, throttled, '7')).toMatchObject({ code: 'transient', retryAfterMs: 7000, graphCode: 'TooManyRequests' });
    expect(parseRetryAfterMs('1.5')).toBe(1500);
    expect(parseRetryAfterMs(new Date(Date.parse('2026-01-01T00:00:10Z')).toUTCString(), Date.parse('2026-01-01T00:00:00Z'))).toBe(10_000);
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });

  it('classifies a GraphError of the SDK by its status code, keeping it as the cause', () => {
    const original = sdkError(429, throttled, { 'retry-after': '3' });
    const translated = translateGraphError(original);
    expect(translated).toMatchObject({ code: 'transient', status: 429, retryAfterMs: 3000 });
    expect(translated.cause).toBe(original);
    expect(translateGraphError(sdkError(400, duplicateUpn)).code).toBe('exists');
    expect(translateGraphError(sdkError(404, { error: { code: 'Request_ResourceNotFound', message: 'gone' } })).code).toBe('not_found');
  });

  it('passes our own errors through, also when the SDK carried them', () => {
    const own = new GraphRequestError('reauthorization_required', 'grant revoked');
    expect(translateGraphError(own)).toBe(own);
    expect(translateGraphError(carry(own))).toBe(own);
  });

  it('reads a failure without any answer as transient', () => {
    const plain = translateGraphError(new Error('socket hang up'));
    expect(plain).toMatchObject({ code: 'transient', status: undefined });
    expect(translateGraphError(new GraphClientError('client')).code).toBe('transient');
    expect(translateGraphError(new GraphError(-1, 'no status')).code).toBe('transient');
  });
});
