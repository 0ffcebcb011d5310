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

  it('turns telemetry on by the Azure Monitor connection string or the OTLP endpoint, and refuses either malformed, by name', () => {
    expect(loadConfig({})).toMatchObject({ applicationInsightsConnectionString: undefined, otlpEndpoint: undefined });
    const connectionString = 'InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/';
    expect(loadConfig({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318/', AZURE_CLIENT_ID: 'client-id' })).toMatchObject({
      applicationInsightsConnectionString: connectionString,
      otlpEndpoint: 'http://localhost:4318',
      azureClientId: 'client-id',
    });
    expect(() => loadConfig({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'not-a-connection-string' })).toThrow(/APPLICATIONINSIGHTS_CONNECTION_STRING/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('sends notices from no-reply at the public host, through no relay unless one is configured', () => {
    expect(loadConfig({})).toMatchObject({ noticeFrom: 'no-reply@localhost.localdomain', noticeSmtp: undefined });
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://bridge.contoso.com' }).noticeFrom).toBe('no-reply@bridge.contoso.com');
    expect(loadConfig({ NOTICE_SMTP_HOST: 'smtp.office365.com', NOTICE_SMTP_USER: 'relay@contoso.com', NOTICE_SMTP_PASSWORD: 'x', NOTICE_FROM: 'it@contoso.com' })).toMatchObject({
      noticeFrom: 'it@contoso.com',
      noticeSmtp: { host: 'smtp.office365.com', port: 587, tls: 'starttls', user: 'relay@contoso.com', password: 'x' },
    });
    expect(loadConfig({ NOTICE_SMTP_HOST: 'relay.contoso.com', NOTICE_SMTP_TLS: 'implicit' }).noticeSmtp).toMatchObject({ port: 465, tls: 'implicit', user: undefined });
  });

  it.each([
    [{ NOTICE_SMTP_PORT: '25' }, 'NOTICE_SMTP_PORT', 'NOTICE_SMTP_HOST is not'],
    [{ NOTICE_SMTP_HOST: 'relay.contoso.com', NOTICE_SMTP_USER: 'relay' }, 'NOTICE_SMTP_PASSWORD', 'required when NOTICE_SMTP_USER'],
    [{ NOTICE_SMTP_HOST: 'relay.contoso.com', NOTICE_SMTP_TLS: 'none' }, 'NOTICE_SMTP_TLS', 'only for a relay on this machine'],
    [{ NOTICE_SMTP_HOST: '127.0.0.1', NOTICE_SMTP_TLS: 'none', NOTICE_SMTP_USER: 'u', NOTICE_SMTP_PASSWORD: 'p' }, 'NOTICE_SMTP_TLS', 'when a password is sent'],
    [{ NOTICE_SMTP_HOST: 'relay.contoso.com', NOTICE_SMTP_TLS: 'ssl' }, 'NOTICE_SMTP_TLS', 'starttls, implicit or none'],
    [{ NOTICE_SMTP_HOST: 'relay.contoso.com', NOTICE_SMTP_PORT: '0' }, 'NOTICE_SMTP_PORT', '1-65535'],
    [{ NOTICE_FROM: 'not an address' }, 'NOTICE_FROM', 'email address'],
  ])('refuses the mail relay settings %j, naming %s', (env, name, text) => {
    try {
      loadConfig(env);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(name);
      expect((error as ConfigError).message).toContain(text);
    }
  });

  it('requires the app registration in live mode and uses Microsoft endpoints verbatim', () => {
    expect(() => loadConfig({ M365_MODE: 'live' })).toThrow(/M365_CLIENT_ID/);
    const config = loadConfig({ M365_MODE: 'live', M365_CLIENT_ID: 'id', M365_CLIENT_SECRET: 'secret' });
    expect(config.authorityUrl).toBe('https://login.microsoftonline.com');
    expect(config.graphBaseUrl).toBe('https://graph.microsoft.com');
  });

  it('proves the app registration with a client secret, or without one through the managed identity', () => {
    const live = { M365_MODE: 'live', M365_CLIENT_ID: 'app-id' };
    expect(() => loadConfig(live)).toThrow(/M365_CLIENT_SECRET.*AZURE_CLIENT_ID/);
    expect(loadConfig({ ...live, M365_CLIENT_SECRET: 'secret' }).m365Credential).toEqual({ kind: 'secret', secret: 'secret' });
    expect(loadConfig({ ...live, AZURE_CLIENT_ID: 'mi-client-id' }).m365Credential).toEqual({ kind: 'managed-identity', managedIdentityClientId: 'mi-client-id' });
    // A secret set on purpose wins over the identity every Azure service is reached with.
    expect(loadConfig({ ...live, AZURE_CLIENT_ID: 'mi-client-id', M365_CLIENT_SECRET: 'secret' }).m365Credential.kind).toBe('secret');
    expect(loadConfig({ AZURE_CLIENT_ID: 'mi-client-id' }).m365Credential).toEqual({ kind: 'secret', secret: 'sandbox-client-secret' });
  });

  describe('under the Azure Functions host', () => {
    const azure = {
      COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
      SERVICEBUS_NAMESPACE: 'ns.servicebus.windows.net',
      KEYVAULT_URL: 'https://kv.vault.azure.net',
      M365_CLIENT_ID: 'app-id',
      AZURE_CLIENT_ID: 'mi-client-id',
    };

    it.each([{ FUNCTIONS_WORKER_RUNTIME: 'node' }, { WEBSITE_INSTANCE_ID: 'abc123' }])('refuses to start without M365_MODE (%j), naming it', (host) => {
      expect(() => loadConfig({ ...host, ...azure })).toThrow(ConfigError);
      expect(() => loadConfig({ ...host, ...azure })).toThrow(/M365_MODE: is required under the Azure Functions host/);
      expect(loadConfig({ ...host, ...azure, M365_MODE: 'live' })).toMatchObject({ m365Mode: 'live', functionsHost: true, m365Credential: { kind: 'managed-identity' } });
    });

    it('refuses to send work to another Service Bus namespace than the triggers receive from', () => {
      const host = { FUNCTIONS_WORKER_RUNTIME: 'node', ...azure, M365_MODE: 'live' };
      expect(loadConfig({ ...host, SERVICEBUS__fullyQualifiedNamespace: 'NS.servicebus.windows.net' }).serviceBusNamespace).toBe('ns.servicebus.windows.net');
      expect(() => loadConfig({ ...host, SERVICEBUS__fullyQualifiedNamespace: 'other.servicebus.windows.net' })).toThrow(/SERVICEBUS_NAMESPACE: must be the namespace the triggers receive from/);
    });

    it('runs the sandbox there only when asked to explicitly', () => {
      const host = { FUNCTIONS_WORKER_RUNTIME: 'node', ...azure, M365_MODE: 'sandbox' };
      expect(() => loadConfig(host)).toThrow(/M365_MODE: is "sandbox" under the Azure Functions host; set M365_ALLOW_SANDBOX=true/);
      expect(() => loadConfig({ ...host, M365_ALLOW_SANDBOX: 'false' })).toThrow(/M365_ALLOW_SANDBOX=true/);
      expect(() => loadConfig({ ...host, M365_ALLOW_SANDBOX: 'yes' })).toThrow(/M365_ALLOW_SANDBOX: must be true or false/);
      expect(loadConfig({ ...host, M365_ALLOW_SANDBOX: 'true' }).m365Mode).toBe('sandbox');
    });

    it.each(['COSMOS_ENDPOINT', 'SERVICEBUS_NAMESPACE', 'KEYVAULT_URL'])('requires %s: the embedded store, queue and secret files serve the local host only', (name) => {
      const env: Record<string, string | undefined> = { FUNCTIONS_WORKER_RUNTIME: 'node', M365_MODE: 'live', ...azure, [name]: undefined };
      expect(() => loadConfig(env)).toThrow(new RegExp(`${name}: is required under the Azure Functions host`));
    });
  });

  it('names a bad secret without repeating its value, which goes to the host log', () => {
    expect(() => loadConfig({ ADMIN_API_KEY: 'short-secret-value' })).toThrow(/^Invalid configuration: ADMIN_API_KEY: must be at least 24 characters$/);
    expect(() => loadConfig({ LOCAL_SECRETS_KEY: 'c2hvcnQ=' })).toThrow(/^Invalid configuration: LOCAL_SECRETS_KEY: must be 32 bytes, base64-encoded$/);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/\(got "abc"\)/);
  });

  it('refuses a Key Vault reference the platform left unresolved instead of taking its text as the value', () => {
    expect(() => loadConfig({ ADMIN_API_KEY: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/admin-api-key/)' })).toThrow(
      /ADMIN_API_KEY: is a Key Vault reference the platform could not resolve/,
    );
  });

  it('trims trailing slashes from URLs and treats blank values as unset', () => {
    const config = loadConfig({ PUBLIC_BASE_URL: 'https://bridge.example.com/', PORT: '  ' });
    expect(config.publicBaseUrl).toBe('https://bridge.example.com');
    expect(config.port).toBe(7071);
  });
});
