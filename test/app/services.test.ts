import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadConfig } from '../../src/app/config';
import { createServices } from '../../src/app/services';
import { createLogger } from '../../src/adapters/logging/pino-logger';

// Loading the native module at all is the failure: with Cosmos DB and Service Bus configured the
// composition root must never import it (the Azure package need not carry a binary for its Node).
jest.mock('better-sqlite3', () => {
  throw new Error('better-sqlite3 was loaded');
});
// Cosmos DB is reached only through the adapter the composition root imports; no account here.
jest.mock('../../src/adapters/cosmos/cosmos-document-store', () => ({
  createCosmosDocumentStore: async () => ({ close: async () => undefined }),
}));

describe('the composition root', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'services-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const azure = {
    M365_MODE: 'live',
    M365_CLIENT_ID: 'app-id',
    AZURE_CLIENT_ID: 'mi-client-id',
    COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
    SERVICEBUS_NAMESPACE: 'ns.servicebus.windows.net',
    KEYVAULT_URL: 'https://kv.vault.azure.net',
  };

  it('never loads better-sqlite3 with Cosmos DB and Service Bus configured', async () => {
    const services = await createServices(loadConfig({ ...azure, DATA_DIR: dataDir }), { logger: createLogger({ level: 'silent' }) });
    expect(services.consumer).toBeUndefined();
    await services.close();
  });

  it('loads it for the embedded queue when Service Bus is not configured', async () => {
    await expect(createServices(loadConfig({ ...azure, SERVICEBUS_NAMESPACE: '', DATA_DIR: dataDir }), { logger: createLogger({ level: 'silent' }) })).rejects.toThrow('better-sqlite3 was loaded');
  });
});
