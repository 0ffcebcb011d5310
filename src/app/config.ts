import path from 'node:path';
import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';

/** Start-up stops with this when a setting is missing or malformed; the message names the variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID' as const;
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`Invalid configuration: ${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

export type M365Mode = 'sandbox' | 'live';

/**
 * How the app registration proves its identity to Entra ID: a client secret, or a client assertion
 * (the managed identity's token for `api://AzureADTokenExchange`, trusted by the registration's
 * federated identity credential), so no secret exists anywhere.
 */
export type M365ClientCredential =
  | { readonly kind: 'secret'; readonly secret: string }
  | { readonly kind: 'managed-identity'; readonly managedIdentityClientId: string };
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Every setting of the service, read once from the environment (README "Configuration"). */
export interface Config {
  readonly port: number;
  readonly dataDir: string;
  readonly adminApiKey: string | undefined;
  readonly m365Mode: M365Mode;
  readonly m365ClientId: string;
  readonly m365Credential: M365ClientCredential;
  /** True under the Azure Functions host (FUNCTIONS_WORKER_RUNTIME or WEBSITE_INSTANCE_ID set). */
  readonly functionsHost: boolean;
  readonly authorityUrl: string;
  readonly graphBaseUrl: string;
  readonly publicBaseUrl: string;
  readonly sandboxPort: number;
  readonly cosmosEndpoint: string | undefined;
  readonly cosmosDatabase: string;
  readonly serviceBusNamespace: string | undefined;
  readonly keyVaultUrl: string | undefined;
  /** 32-byte key, base64, for the local secret files; generated into DATA_DIR when absent. */
  readonly localSecretsKey: string | undefined;
  readonly logLevel: LogLevel;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans and metrics are exported there over OTLP/HTTP. */
  readonly otlpEndpoint: string | undefined;
  /** APPLICATIONINSIGHTS_CONNECTION_STRING: spans, metrics and logs go to Azure Monitor (the OpenTelemetry distro), sent with the managed identity. */
  readonly applicationInsightsConnectionString: string | undefined;
  /** AZURE_CLIENT_ID: the user-assigned managed identity every Azure client authenticates as. */
  readonly azureClientId: string | undefined;
  /** NCRONTAB (six fields, seconds first), as the Functions timer trigger takes it. */
  readonly reconcileSchedule: string;
  readonly queueMaxDeliveries: number;
  /** Sessions the local host handles in parallel per queue. */
  readonly queueConcurrency: number;
  readonly passwordMinLength: number;
  readonly shutdownGraceMs: number;
  /** The sender of notices (welcome mail). */
  readonly noticeFrom: string;
  /** The mail relay notices go through; unset: the outbox folder (locally) or the store's outbox (Azure). */
  readonly noticeSmtp: NoticeSmtpConfig | undefined;
  /** Graph writes the whole app may make per 5 minutes across tenants (Graph's limit: 35,000). */
  readonly graphAppWritesPer5Minutes: number;
  /** Graph writes per tenant per 150 seconds (Graph's limit: 3,000). */
  readonly graphTenantWritesPer150Seconds: number;
}

export interface NoticeSmtpConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: 'starttls' | 'implicit' | 'none';
  readonly user: string | undefined;
  readonly password: string | undefined;
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function noticeSmtp(env: Env): NoticeSmtpConfig | undefined {
  const host = parse(env, 'NOTICE_SMTP_HOST', z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'must be a host name or address'), undefined as string | undefined);
  if (host === undefined) {
    for (const name of ['NOTICE_SMTP_PORT', 'NOTICE_SMTP_TLS', 'NOTICE_SMTP_USER', 'NOTICE_SMTP_PASSWORD']) {
      if (read(env, name) !== undefined) throw new ConfigError(name, 'is set but NOTICE_SMTP_HOST is not');
    }
    return undefined;
  }
  const tls = parse<NoticeSmtpConfig['tls']>(env, 'NOTICE_SMTP_TLS', z.enum(['starttls', 'implicit', 'none'], { error: 'must be starttls, implicit or none' }), 'starttls');
  if (tls === 'none' && !loopbackHosts.has(host.toLowerCase())) throw new ConfigError('NOTICE_SMTP_TLS', `may be "none" only for a relay on this machine (got host "${host}")`);
  const user = read(env, 'NOTICE_SMTP_USER');
  const password = read(env, 'NOTICE_SMTP_PASSWORD');
  if (user !== undefined && password === undefined) throw new ConfigError('NOTICE_SMTP_PASSWORD', 'is required when NOTICE_SMTP_USER is set');
  if (user === undefined && password !== undefined) throw new ConfigError('NOTICE_SMTP_USER', 'is required when NOTICE_SMTP_PASSWORD is set');
  if (user !== undefined && tls === 'none') throw new ConfigError('NOTICE_SMTP_TLS', 'must not be "none" when a password is sent');
  return { host, port: parse(env, 'NOTICE_SMTP_PORT', portSchema.refine((p) => p > 0, 'must be 1-65535'), tls === 'implicit' ? 465 : 587), tls, user, password };
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

const secretVariables: ReadonlySet<string> = new Set(['ADMIN_API_KEY', 'M365_CLIENT_SECRET', 'LOCAL_SECRETS_KEY', 'NOTICE_SMTP_PASSWORD']);

function parse<T>(env: Env, name: string, schema: z.ZodType<T>, fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  // The platform leaves a Key Vault reference it cannot resolve as the literal text, which would
  // otherwise pass for a value (for ADMIN_API_KEY, a key anyone could read in the template).
  if (/^@Microsoft\.KeyVault\(/i.test(raw)) throw new ConfigError(name, 'is a Key Vault reference the platform could not resolve (does the secret exist, and may the app\'s identity read it?)');
  const result = schema.safeParse(raw);
  if (!result.success) {
    // The message goes to the host log (and names the variable in 503 answers): never a secret's value.
    throw new ConfigError(name, `${result.error.issues[0]?.message ?? 'invalid value'}${secretVariables.has(name) ? '' : ` (got "${raw}")`}`);
  }
  return result.data;
}

const portSchema = z.coerce.number({ error: 'must be a port number' }).int('must be an integer').min(0, 'must be 0-65535 (0 picks a free port)').max(65535, 'must be 0-65535 (0 picks a free port)');
const positiveInt = (max: number) => z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`);
const urlSchema = z.url({ error: 'must be an absolute http(s) URL' }).refine((u) => /^https?:\/\//.test(u), 'must be an absolute http(s) URL').transform((u) => u.replace(/\/+$/, ''));
const ncrontab = z.string().refine((value) => {
  if (value.split(/\s+/).length !== 6) return false;
  try {
    CronExpressionParser.parse(value);
    return true;
  } catch {
    return false;
  }
}, 'must be an NCRONTAB expression with six fields (second minute hour day month weekday)');

/** True when the Azure Functions host runs this process (locally with `func start`, or in Azure). */
export function isFunctionsHost(env: Env = process.env): boolean {
  return read(env, 'FUNCTIONS_WORKER_RUNTIME') !== undefined || read(env, 'WEBSITE_INSTANCE_ID') !== undefined;
}

const modeSchema = z.enum(['sandbox', 'live'], { error: 'must be "sandbox" or "live"' });

/**
 * Outside the Functions host a missing M365_MODE means the sandbox. Under it nothing is assumed:
 * a forgotten setting would otherwise send consent to a loopback sandbox that is not running.
 */
function m365ModeFor(env: Env, functionsHost: boolean): M365Mode {
  if (!functionsHost) return parse<M365Mode>(env, 'M365_MODE', modeSchema, 'sandbox');
  const mode = parse<M365Mode | undefined>(env, 'M365_MODE', modeSchema, undefined);
  if (mode === undefined) throw new ConfigError('M365_MODE', 'is required under the Azure Functions host; set it to "live" (or "sandbox" with M365_ALLOW_SANDBOX=true)');
  if (mode === 'sandbox' && parse(env, 'M365_ALLOW_SANDBOX', z.enum(['true', 'false'], { error: 'must be true or false' }), 'false') !== 'true') {
    throw new ConfigError('M365_MODE', 'is "sandbox" under the Azure Functions host; set M365_ALLOW_SANDBOX=true if that is intended');
  }
  return mode;
}

function m365CredentialFor(env: Env, live: boolean): M365ClientCredential {
  const secret = read(env, 'M365_CLIENT_SECRET');
  if (secret !== undefined) return { kind: 'secret', secret };
  const managedIdentityClientId = read(env, 'AZURE_CLIENT_ID');
  if (live && managedIdentityClientId !== undefined) return { kind: 'managed-identity', managedIdentityClientId };
  if (live) throw new ConfigError('M365_CLIENT_SECRET', 'is required when M365_MODE=live, unless AZURE_CLIENT_ID names the managed identity the app registration trusts (federated identity credential)');
  return { kind: 'secret', secret: 'sandbox-client-secret' };
}

/**
 * The Functions host's Service Bus triggers receive from SERVICEBUS__fullyQualifiedNamespace (the
 * `SERVICEBUS` connection); work sent to another namespace would never be received.
 */
function serviceBusNamespaceFor(env: Env, namespace: string | undefined): string | undefined {
  const triggers = read(env, 'SERVICEBUS__fullyQualifiedNamespace');
  if (triggers !== undefined && namespace !== undefined && triggers.toLowerCase() !== namespace.toLowerCase()) {
    throw new ConfigError('SERVICEBUS_NAMESPACE', `must be the namespace the triggers receive from, SERVICEBUS__fullyQualifiedNamespace (got "${namespace}" and "${triggers}")`);
  }
  return namespace;
}

/** Reads and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const port = parse(env, 'PORT', portSchema, 7071);
  const sandboxPort = parse(env, 'SANDBOX_PORT', portSchema, 7072);
  const functionsHost = isFunctionsHost(env);
  const m365Mode = m365ModeFor(env, functionsHost);
  // The sandbox serves HTTPS (msal-node accepts only https authorities) with a loopback certificate.
  const sandboxUrl = `https://127.0.0.1:${sandboxPort}`;
  const live = m365Mode === 'live';

  const required = (name: string, sandboxDefault: string): string => {
    const value = read(env, name);
    if (value !== undefined) return value;
    if (live) throw new ConfigError(name, 'is required when M365_MODE=live');
    return sandboxDefault;
  };

  // The embedded SQLite store, queue and secret files live on one machine's disk and the local host
  // pumps the queue: under the Functions host nothing would receive the work, and each instance
  // would keep its own directory and tokens.
  const azureOnly = (name: string, value: string | undefined): string | undefined => {
    if (value === undefined && functionsHost) throw new ConfigError(name, 'is required under the Azure Functions host (the embedded SQLite store, queue and secret files serve the local host only)');
    return value;
  };

  const publicBaseUrl = parse(env, 'PUBLIC_BASE_URL', urlSchema, `http://localhost:${port}`);
  const publicHost = new URL(publicBaseUrl).hostname;
  const config: Config = {
    port,
    dataDir: path.resolve(read(env, 'DATA_DIR') ?? './.data'),
    adminApiKey: parse(env, 'ADMIN_API_KEY', z.string().min(24, 'must be at least 24 characters'), undefined as string | undefined),
    m365Mode,
    m365ClientId: required('M365_CLIENT_ID', 'sandbox-client'),
    m365Credential: m365CredentialFor(env, live),
    functionsHost,
    authorityUrl: parse(env, 'AUTHORITY_URL', urlSchema, live ? 'https://login.microsoftonline.com' : sandboxUrl),
    graphBaseUrl: parse(env, 'GRAPH_BASE_URL', urlSchema, live ? 'https://graph.microsoft.com' : sandboxUrl),
    publicBaseUrl,
    sandboxPort,
    cosmosEndpoint: azureOnly('COSMOS_ENDPOINT', parse(env, 'COSMOS_ENDPOINT', urlSchema, undefined as string | undefined)),
    cosmosDatabase: parse(env, 'COSMOS_DATABASE', z.string().regex(/^[A-Za-z0-9-_]{1,255}$/, 'must be a Cosmos DB database name'), 'm365-bridge'),
    serviceBusNamespace: serviceBusNamespaceFor(env, azureOnly('SERVICEBUS_NAMESPACE', parse(env, 'SERVICEBUS_NAMESPACE', z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a namespace host name such as myns.servicebus.windows.net'), undefined as string | undefined))),
    keyVaultUrl: azureOnly('KEYVAULT_URL', parse(env, 'KEYVAULT_URL', urlSchema, undefined as string | undefined)),
    localSecretsKey: parse(env, 'LOCAL_SECRETS_KEY', z.string().refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded'), undefined as string | undefined),
    otlpEndpoint: parse(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', urlSchema, undefined as string | undefined),
    applicationInsightsConnectionString: parse(
      env,
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      z.string().regex(/(^|;)\s*InstrumentationKey=[0-9a-fA-F-]{36}\s*(;|$)/, 'must be an Application Insights connection string (InstrumentationKey=...;IngestionEndpoint=...)'),
      undefined as string | undefined,
    ),
    azureClientId: read(env, 'AZURE_CLIENT_ID'),
    logLevel: parse<LogLevel>(env, 'LOG_LEVEL', z.enum(['debug', 'info', 'warn', 'error', 'silent'], { error: 'must be debug, info, warn, error or silent' }), 'info'),
    reconcileSchedule: parse(env, 'RECONCILE_SCHEDULE', ncrontab, '0 */15 * * * *'),
    queueMaxDeliveries: parse(env, 'QUEUE_MAX_DELIVERIES', positiveInt(100), 10),
    queueConcurrency: parse(env, 'QUEUE_CONCURRENCY', positiveInt(256), 32),
    passwordMinLength: parse(env, 'PASSWORD_MIN_LENGTH', positiveInt(256), 12),
    shutdownGraceMs: parse(env, 'SHUTDOWN_GRACE_MS', positiveInt(60_000), 3_000),
    noticeFrom: parse(env, 'NOTICE_FROM', z.email({ error: 'must be an email address' }), `no-reply@${publicHost === 'localhost' ? 'localhost.localdomain' : publicHost}`),
    noticeSmtp: noticeSmtp(env),
    graphAppWritesPer5Minutes: parse(env, 'GRAPH_APP_WRITES_PER_5_MINUTES', positiveInt(10_000_000), 35_000),
    graphTenantWritesPer150Seconds: parse(env, 'GRAPH_TENANT_WRITES_PER_150_SECONDS', positiveInt(1_000_000), 3_000),
  };
  return config;
}

/** The configuration error that stops this process, if any; other errors are not expected and are thrown. */
export function configProblem(): ConfigError | undefined {
  try {
    getConfig();
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

let cached: Config | undefined;

/** The process-wide configuration, read on first use. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}
