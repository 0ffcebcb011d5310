import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/app/config';

describe('loadConfig', () => {
  it('needs no variables at all for the local defaults', () => {
    const config = loadConfig({});
    expect(config.port).toBe(7071);
    expect(config.sandboxPort).toBe(7072);
    expect(config.m365Mode).toBe('sandbox');
    expect(config.dataDir).toBe(path.resolve('./.data'));
    expect(config.authorityUrl).toBe('https://127.0.0.1:7072');
    expect(config.graphBaseUrl).toBe('https://127.0.0.1:7072');
    expect(config.publicBaseUrl).toBe('http://localhost:7071');
    expect(config.cosmosEndpoint).toBeUndefined();
    expect(config.reconcileSchedule).toBe('0 */15 * * * *');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['SANDBOX_PORT', '-1'],
    ['M365_MODE', 'prod'],
    ['AUTHORITY_URL', 'not a url'],
    ['COSMOS_ENDPOINT', 'ftp://x'],
    ['LOCAL_SECRETS_KEY', 'c2hvcnQ='],
    ['RECONCILE_SCHEDULE', '*/5 * * * *'],
    ['QUEUE_MAX_DELIVERIES', '0'],
    ['LOG_LEVEL', 'loud'],
    ['ADMIN_API_KEY', 'short'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      expect((error as ConfigError).variable).toBe(name);
      expect((error as ConfigError).message).toContain(name);
    }
  });

  it('requires the app registration in live mode and uses Microsoft endpoints verbatim', () => {
    expect(() => loadConfig({ M365_MODE: 'live' })).toThrow(/M365_CLIENT_ID/);
    const config = loadConfig({ M365_MODE: 'live', M365_CLIENT_ID: 'id', M365_CLIENT_SECRET: 'secret' });
    expect(config.authorityUrl).toBe('https://login.microsoftonline.com');
    expect(config.graphBaseUrl).toBe('https://graph.microsoft.com');
  });

  it('trims trailing slashes from URLs and treats blank values as unset', () => {
    const config = loadConfig({ PUBLIC_BASE_URL: 'https://bridge.example.com/', PORT: '  ' });
    expect(config.publicBaseUrl).toBe('https://bridge.example.com');
    expect(config.port).toBe(7071);
  });
});
