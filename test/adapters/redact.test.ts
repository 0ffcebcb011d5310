import { Writable } from 'node:stream';
import { createLogger } from '../../src/adapters/logging/pino-logger';

function capture(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), text: () => lines.join('') };
}

describe('log redaction', () => {
  const secrets = {
    refreshToken: '0.AAAA-refresh-token-value-9f8e7d6c5b4a',
    accessToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl',
    password: 'Correct-Horse-Battery-9',
    apiKey: 'm365b_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    clientSecret: 'sandbox-client-secret-value',
  };

  it('never writes tokens, passwords, API keys, client secrets or Authorization headers', () => {
    const { logger, text } = capture();
    logger.info('token refreshed', { refresh_token: secrets.refreshToken, connectionId: 'c1' });
    logger.info(`calling graph with Bearer ${secrets.accessToken}`);
    logger.warn('password change', { user: { id: 'u1', password: secrets.password } });
    logger.error('request failed', { headers: { Authorization: `Bearer ${secrets.accessToken}`, 'x-api-key': secrets.apiKey } });
    logger.info('token endpoint body', { body: `grant_type=refresh_token&refresh_token=${secrets.refreshToken}&client_secret=${secrets.clientSecret}` });
    logger.child({ apiKey: secrets.apiKey }).info(`key ${secrets.apiKey} used`);
    logger.error('boom', { error: new Error(`invalid client_secret=${secrets.clientSecret}`) });
    logger.info('jwt in free text', { note: `got ${secrets.accessToken}` });

    const output = text();
    for (const value of Object.values(secrets)) expect(output).not.toContain(value);
    expect(output).toContain('[REDACTED]');
  });

  it('keeps the fields an operator needs', () => {
    const { logger, text } = capture();
    logger.info('binding provisioned', { connectionId: 'c1', userId: 'u1', state: 'provisioned', code: 'ObjectConflict', attempts: 2 });
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'binding provisioned', connectionId: 'c1', userId: 'u1', state: 'provisioned', code: 'ObjectConflict', attempts: 2, level: 'info' });
  });
});
