import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { SecretStore } from '../ports/secret-store';
import type { IdentityPlatform } from './identity-platform';
import type { TenantReader } from './tenant-reader';

/** The ports the connection use cases run on. */
export interface ConnectionDeps {
  readonly store: DocumentStore;
  readonly secrets: SecretStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly identity: IdentityPlatform;
  readonly tenants: TenantReader;
}

/** An expected failure of a connection use case; the HTTP layer maps `code` to a status. */
export interface ConnectionError {
  readonly code: 'not_found' | 'conflict' | 'unprocessable' | 'unavailable';
  readonly message: string;
  /** The field the failure is about (`domains`), when there is one. */
  readonly field?: string;
}
