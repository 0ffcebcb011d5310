import { Agent, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { createCosmosDocumentStore } from '../../src/adapters/cosmos/cosmos-document-store';
import type { Clock } from '../../src/domain/ports/clock';
import type { DocumentStore } from '../../src/domain/ports/document-store';

/** The Cosmos DB emulator's well-known key: the test server accepts any key. */
export const emulatorKey = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface CosmosTestServer {
  /** Set once the file's beforeAll has run. */
  readonly endpoint: string;
  /** Trusts the server's self-signed certificate (test only) and keeps connections alive. */
  readonly agent: Agent;
  /** A store on `database` of this server, with the emulator key. */
  open(database: string, clock?: Clock): Promise<DocumentStore>;
}

/**
 * An in-memory Cosmos DB (@vercel/cosmosdb-server) on loopback for the calling test file: started
 * in beforeAll, closed in afterAll.
 */
export function useCosmosTestServer(): CosmosTestServer {
  let server: Server | undefined;
  let endpoint: string | undefined;
  const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });

  beforeAll(async () => {
    // The server closes every connection unless asked not to; a TLS handshake per request triples the run time.
    server = createHttpsServer({ keepAlive: true });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    agent.destroy();
    await new Promise<void>((resolve, reject) => (server === undefined ? resolve() : server.close((error) => (error ? reject(error) : resolve()))));
  });

  return {
    get endpoint() {
      if (endpoint === undefined) throw new Error('the Cosmos DB test server is not started yet');
      return endpoint;
    },
    agent,
    open(database, clock) {
      return createCosmosDocumentStore({ endpoint: this.endpoint, database, key: emulatorKey, agent, ...(clock === undefined ? {} : { clock }) });
    },
  };
}
