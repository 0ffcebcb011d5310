import { createDirectoryHooks } from '../../src/app/directory-hooks';
import type { DirectoryChange } from '../../src/domain/directory/directory-hooks';
import type { Logger } from '../../src/domain/ports/logger';
import { err, ok } from '../../src/domain/result';

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (message) => void lines.push(message),
    child: () => logger,
  };
  return logger;
}

const change: DirectoryChange = { type: 'user.created', userId: 'u1', email: 'a@example.com', occurredAt: '2026-01-01T00:00:00.000Z' };
const user = { id: 'u1', email: 'a@example.com', username: 'a', displayName: 'a', state: 'active' as const, createdAt: '', updatedAt: '' };

describe('createDirectoryHooks', () => {
  it('allows everything and hears nothing with no listener', async () => {
    const hooks = createDirectoryHooks(recordingLogger([]));
    await hooks.onChange(change);
    expect(await hooks.checkEmailChange(user, 'b@example.com')).toEqual(ok(undefined));
    await hooks.handOffPassword('u1', 'secret');
  });

  it('tells every listener of a change, even after one of them throws', async () => {
    const errors: string[] = [];
    const hooks = createDirectoryHooks(recordingLogger(errors));
    const heard: string[] = [];
    hooks.register({ onChange: async () => Promise.reject(new Error('down')) });
    hooks.register({ onChange: async (c) => void heard.push(c.type) });
    await hooks.onChange(change);
    expect(heard).toEqual(['user.created']);
    expect(errors).toEqual(['directory change listener failed']);
  });

  it('refuses an email change when any listener refuses, and stops asking once removed', async () => {
    const hooks = createDirectoryHooks(recordingLogger([]));
    hooks.register({ checkEmailChange: async () => ok(undefined) });
    const remove = hooks.register({ checkEmailChange: async () => err({ reason: 'bound elsewhere' }) });
    expect(await hooks.checkEmailChange(user, 'b@example.com')).toEqual(err({ reason: 'bound elsewhere' }));
    remove();
    expect(await hooks.checkEmailChange(user, 'b@example.com')).toEqual(ok(undefined));
  });

  it('lets a failing password hand-off fail the caller', async () => {
    const hooks = createDirectoryHooks(recordingLogger([]));
    hooks.register({ handOffPassword: async () => Promise.reject(new Error('vault down')) });
    await expect(hooks.handOffPassword('u1', 'secret')).rejects.toThrow('vault down');
  });
});
