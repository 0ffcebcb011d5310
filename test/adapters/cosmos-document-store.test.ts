import { CosmosClient } from '@azure/cosmos';
import { createCosmosDocumentStore } from '../../src/adapters/cosmos/cosmos-document-store';
import { describeDocumentStoreContract } from '../contract/document-store.contract';
import { emulatorKey, useCosmosTestServer } from '../support/cosmos-test-server';

const cosmos = useCosmosTestServer();
let databases = 0;

// A database per test keeps tests independent on the one in-memory server.
describeDocumentStoreContract('Cosmos DB (@vercel/cosmosdb-server)', async (clock) => {
  databases += 1;
  return cosmos.open(`contract-${databases}`, clock);
});

describe('createCosmosDocumentStore', () => {
  it('needs exactly one of credential and key', async () => {
    await expect(createCosmosDocumentStore({ endpoint: cosmos.endpoint, database: 'x' })).rejects.toThrow(TypeError);
  });

  it('reuses existing containers and refuses one with another partition key', async () => {
    const first = await cosmos.open('reuse');
    await first.upsert('users', 'u1', 'u1', { kept: true });
    await first.close();
    const second = await cosmos.open('reuse');
    expect((await second.get('users', 'u1', 'u1'))?.data).toEqual({ kept: true });
    await second.close();

    const client = new CosmosClient({ endpoint: cosmos.endpoint, key: emulatorKey, agent: cosmos.agent });
    const { database } = await client.databases.createIfNotExists({ id: 'foreign' });
    await database.containers.createIfNotExists({ id: 'users', partitionKey: { paths: ['/tenantId'] } });
    client.dispose();
    await expect(cosmos.open('foreign')).rejects.toThrow(/partition key/);
  });
});
