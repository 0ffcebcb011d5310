import { Agent } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { createCosmosDocumentStore } from '../../src/adapters/cosmos/cosmos-document-store';
import { describeDocumentStoreContract } from '../contract/document-store.contract';

// The well-known public key of the Cosmos DB emulator: the test server accepts any key.
const emulatorKey = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

let server: Server;
let endpoint: string;
// Test only: the server's certificate is self-signed.
const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
let databases = 0;

beforeAll(async () => {
  // The server closes every connection unless asked not to; a TLS handshake per request triples the run time.
  server = createHttpsServer({ keepAlive: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  agent.destroy();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

// A database per test keeps tests independent on the one in-memory server.
describeDocumentStoreContract('Cosmos DB (@vercel/cosmosdb-server)', async (clock) => {
  databases += 1;
  return createCosmosDocumentStore({ endpoint, database: `contract-${databases}`, key: emulatorKey, agent, clock });
});

describe('createCosmosDocumentStore', () => {
  it('needs exactly one of credential and key', async () => {
    await expect(createCosmosDocumentStore({ endpoint, database: 'x' })).rejects.toThrow(TypeError);
  });

  it('reuses existing containers and refuses one with another partition key', async () => {
    const first = await createCosmosDocumentStore({ endpoint, database: 'reuse', key: emulatorKey, agent });
    await first.upsert('users', 'u1', 'u1', { kept: true });
    await first.close();
    const second = await createCosmosDocumentStore({ endpoint, database: 'reuse', key: emulatorKey, agent });
    expect((await second.get('users', 'u1', 'u1'))?.data).toEqual({ kept: true });
    await second.close();

    const client = new CosmosClient({ endpoint, key: emulatorKey, agent });
    const { database } = await client.databases.createIfNotExists({ id: 'foreign' });
    await database.containers.createIfNotExists({ id: 'users', partitionKey: { paths: ['/tenantId'] } });
    client.dispose();
    await expect(createCosmosDocumentStore({ endpoint, database: 'foreign', key: emulatorKey, agent })).rejects.toThrow(/partition key/);
  });
});
