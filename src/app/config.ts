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
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Every setting of the service, read once from the environment (README "Configuration"). */
export interface Config {
  readonly port: number;
  readonly dataDir: string;
  readonly adminApiKey: string | undefined;
  readonly m365Mode: M365Mode;
  readonly m365ClientId: string;
  readonly m365ClientSecret: string;
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

function parse<T>(env: Env, name: string, schema: z.ZodType<T>, fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(name, `${result.error.issues[0]?.message ?? 'invalid value'} (got "${raw}")`);
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

/** Reads and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const port = parse(env, 'PORT', portSchema, 7071);
  const sandboxPort = parse(env, 'SANDBOX_PORT', portSchema, 7072);
  const m365Mode = parse<M365Mode>(env, 'M365_MODE', z.enum(['sandbox', 'live'], { error: 'must be "sandbox" or "live"' }), 'sandbox');
  // The sandbox serves HTTPS (msal-node accepts only https authorities) with a loopback certificate.
  const sandboxUrl = `https://127.0.0.1:${sandboxPort}`;
  const live = m365Mode === 'live';

  const required = (name: string, sandboxDefault: string): string => {
    const value = read(env, name);
    if (value !== undefined) return value;
    if (live) throw new ConfigError(name, 'is required when M365_MODE=live');
    return sandboxDefault;
  };

  const publicBaseUrl = parse(env, 'PUBLIC_BASE_URL', urlSchema, `http://localhost:${port}`);
  const publicHost = new URL(publicBaseUrl).hostname;
  const config: Config = {
    port,
    dataDir: path.resolve(read(env, 'DATA_DIR') ?? './.data'),
    adminApiKey: parse(env, 'ADMIN_API_KEY', z.string().min(24, 'must be at least 24 characters'), undefined as string | undefined),
    m365Mode,
    m365ClientId: required('M365_CLIENT_ID', 'sandbox-client'),
    m365ClientSecret: required('M365_CLIENT_SECRET', 'sandbox-client-secret'),
    authorityUrl: parse(env, 'AUTHORITY_URL', urlSchema, live ? 'https://login.microsoftonline.com' : sandboxUrl),
    graphBaseUrl: parse(env, 'GRAPH_BASE_URL', urlSchema, live ? 'https://graph.microsoft.com' : sandboxUrl),
    publicBaseUrl,
    sandboxPort,
    cosmosEndpoint: parse(env, 'COSMOS_ENDPOINT', urlSchema, undefined as string | undefined),
    cosmosDatabase: parse(env, 'COSMOS_DATABASE', z.string().regex(/^[A-Za-z0-9-_]{1,255}$/, 'must be a Cosmos DB database name'), 'm365-bridge'),
    serviceBusNamespace: parse(env, 'SERVICEBUS_NAMESPACE', z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a namespace host name such as myns.servicebus.windows.net'), undefined as string | undefined),
    keyVaultUrl: parse(env, 'KEYVAULT_URL', urlSchema, undefined as string | undefined),
    localSecretsKey: parse(env, 'LOCAL_SECRETS_KEY', z.string().refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded'), undefined as string | undefined),
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

let cached: Config | undefined;

/** The process-wide configuration, read on first use. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}
