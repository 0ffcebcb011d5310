import path from 'node:path';
import type { Config } from './config';
import { getConfig } from './config';
import type { Clock } from '../domain/ports/clock';
import { systemClock } from '../domain/ports/clock';
import type { DocumentStore } from '../domain/ports/document-store';
import type { Logger } from '../domain/ports/logger';
import type { SecretStore } from '../domain/ports/secret-store';
import type { MessageSender } from '../domain/ports/work-queue';
import type { DeadLetterQueue } from '../domain/ports/dead-letters';
import { startTelemetry, type Telemetry } from '../adapters/telemetry/telemetry';
import { ServiceMetrics, type QueueBacklog } from '../adapters/telemetry/service-metrics';
import { TracedDocumentStore } from '../adapters/telemetry/traced-document-store';
import { tracedLogger } from '../adapters/telemetry/traced-logger';
import { TracedMessageSender } from '../adapters/telemetry/traced-message-sender';
import type { TokenCredential } from '@azure/identity';
import type { QueueConsumer } from './host/queue-consumer';
import { createLogger } from '../adapters/logging/pino-logger';
import { createDirectoryHooks, type DirectoryHookRegistry } from './directory-hooks';
import { provisioningFor } from './provisioning-services';
import { groupSyncFor } from './group-sync-services';
import type { M365Access } from '../adapters/graph/m365-access';

/** Everything a function needs, wired once per process from configuration (the composition root). */
export interface Services {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly store: DocumentStore;
  readonly sender: MessageSender;
  readonly secrets: SecretStore;
  /** The embedded queue's consumer side, pumped by the local host; absent with Service Bus (the Functions host receives). */
  readonly consumer: QueueConsumer | undefined;
  /** The work queues' dead letters: the embedded queue's, or Service Bus's dead-letter sub-queues plus the poison records. */
  readonly deadLetters: DeadLetterQueue;
  /** Traces and meters (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set); metrics in Prometheus text for /api/metrics. */
  readonly telemetry: Telemetry;
  readonly metrics: ServiceMetrics;
  /** Listeners on directory changes; provisioning registers its own at wiring time. */
  readonly directoryHooks: DirectoryHookRegistry;
  /** Microsoft 365 access for connections: msal-node identity platform, token provider, Graph client factory. */
  readonly m365: M365Access;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** The app's identity: in Azure the user-assigned managed identity named by AZURE_CLIENT_ID. */
async function createAzureCredential(config: Config): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential(config.azureClientId === undefined ? {} : { managedIdentityClientId: config.azureClientId });
}

/**
 * Wires the adapters the configuration asks for: Cosmos DB, Service Bus and Key Vault when their
 * endpoints are set (Azure), else the embedded SQLite store and queue and the local secret files.
 */
export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const closers: Array<() => Promise<void> | void> = [];
  // First, so that everything after runs traced; closed last, so the final spans and logs are sent.
  const telemetry = await startTelemetry({
    serviceName: 'm365-bridge',
    otlpEndpoint: config.otlpEndpoint,
    azureMonitor: config.applicationInsightsConnectionString === undefined ? undefined : { connectionString: config.applicationInsightsConnectionString, credential: await createAzureCredential(config) },
  });
  closers.push(() => telemetry.shutdown());
  const baseLogger = overrides.logger ?? createLogger({ level: config.logLevel });
  const logger = telemetry.exporting ? tracedLogger(baseLogger, { level: config.logLevel }) : baseLogger;
  const clock = overrides.clock ?? systemClock;
  // better-sqlite3 is a native module: loaded only when the embedded store or queue is used, so
  // the Azure configuration (Cosmos DB and Service Bus) never needs a binary built for its Node.
  const needsSqlite = config.cosmosEndpoint === undefined || config.serviceBusNamespace === undefined;
  const db = needsSqlite ? (await import('../adapters/sqlite/database')).openDatabase(path.join(config.dataDir, 'm365-bridge.db')) : undefined;

  let store: DocumentStore;
  if (config.cosmosEndpoint !== undefined) {
    const { createCosmosDocumentStore } = await import('../adapters/cosmos/cosmos-document-store');
    store = await createCosmosDocumentStore({ endpoint: config.cosmosEndpoint, database: config.cosmosDatabase, credential: await createAzureCredential(config), clock });
  } else {
    const { SqliteDocumentStore } = await import('../adapters/sqlite/sqlite-document-store');
    store = new SqliteDocumentStore(db!, { clock });
  }
  if (telemetry.exporting) store = new TracedDocumentStore(store, config.cosmosEndpoint === undefined ? 'sqlite' : 'cosmosdb');
  closers.push(() => store.close());

  let sender: MessageSender;
  let consumer: QueueConsumer | undefined;
  let deadLetters: DeadLetterQueue;
  let backlog: (() => Promise<readonly QueueBacklog[]>) | undefined;
  if (config.serviceBusNamespace !== undefined) {
    const { createServiceBusMessageSender } = await import('../adapters/servicebus/servicebus-message-sender');
    const { createServiceBusDeadLetters } = await import('../adapters/servicebus/servicebus-dead-letters');
    const { PoisonRecords, brokerAndPoisonDeadLetters } = await import('../domain/dead-letters/poison-records');
    const credential = await createAzureCredential(config);
    const serviceBusSender = createServiceBusMessageSender(config.serviceBusNamespace, credential);
    sender = serviceBusSender;
    const broker = createServiceBusDeadLetters(config.serviceBusNamespace, credential, { sender: serviceBusSender, clock });
    closers.push(() => broker.close());
    deadLetters = brokerAndPoisonDeadLetters(broker.deadLetters, new PoisonRecords({ store, sender: serviceBusSender, clock }));
  } else {
    const { SqliteWorkQueue } = await import('../adapters/sqlite/sqlite-work-queue');
    const queue = new SqliteWorkQueue(db!, { clock, maxDeliveries: config.queueMaxDeliveries });
    sender = queue;
    consumer = queue;
    deadLetters = queue;
    backlog = () => queue.backlog();
  }
  if (telemetry.exporting) sender = new TracedMessageSender(sender);
  closers.push(() => sender.close());

  let secrets: SecretStore;
  if (config.keyVaultUrl !== undefined) {
    const { createKeyVaultSecretStore } = await import('../adapters/keyvault/keyvault-secret-store');
    secrets = createKeyVaultSecretStore(config.keyVaultUrl, await createAzureCredential(config));
  } else {
    const { createLocalSecretStore } = await import('../adapters/local-secrets/local-secret-store');
    secrets = createLocalSecretStore({ dir: path.join(config.dataDir, 'secrets'), ...(config.localSecretsKey === undefined ? {} : { keyBase64: config.localSecretsKey }), clock });
  }

  const metrics = new ServiceMetrics(telemetry.meter, { ...(backlog === undefined ? {} : { backlog }), now: () => clock.now() });

  const { createM365Access } = await import('../adapters/graph/m365-access');
  const m365 = await createM365Access(config, { store, secrets, clock, logger: logger.child({ component: 'm365' }), metrics });
  closers.push(() => m365.close());

  if (db !== undefined) closers.push(() => {
    db.close();
  });

  const services: Services = {
    config,
    logger,
    clock,
    store,
    sender,
    secrets,
    consumer,
    deadLetters,
    telemetry,
    metrics,
    directoryHooks: createDirectoryHooks(logger.child({ component: 'directory-hooks' })),
    m365,
    async close() {
      // The last export while the store and queue still answer the gauges' callbacks.
      await telemetry.flush();
      for (const close of closers.splice(0).reverse()) await close();
    },
  };
  // Provisioning listens to directory changes from the first request on, whichever function runs first.
  provisioningFor(services);
  groupSyncFor(services);
  return services;
}

let current: Promise<Services> | undefined;

/** The process-wide services, created on first use from `getConfig()`. */
export function getServices(): Promise<Services> {
  current ??= createServices(getConfig());
  return current;
}

/** Installs an already-built Services (the local host and tests do this before serving). */
export function setServices(services: Services): void {
  current = Promise.resolve(services);
}

/** Forgets the process-wide services (tests). */
export function resetServices(): void {
  current = undefined;
}
