import { createGraphM365Directories } from '../adapters/graph/graph-m365-directory';
import type { M365Directories } from '../domain/import/m365-directory';
import { GraphPageCache, type PreviewDeps } from '../domain/import/preview-m365-users';
import { signingKey } from '../domain/signing/signing-key';
import type { ImportWorkerDeps } from '../domain/import/import-worker';
import { provisioningFor } from './provisioning-services';
import type { Services } from './services';

interface ImportWiring {
  readonly worker: ImportWorkerDeps;
  readonly preview: PreviewDeps;
}

const wired = new WeakMap<Services, ImportWiring>();

/**
 * Import's wiring for a process's services: the Graph directories, the preview's page cache (one
 * per process), and provisioning's binding side, which imports bind through.
 */
export function importsFor(services: Services): ImportWiring {
  const existing = wired.get(services);
  if (existing !== undefined) return existing;
  const directories: M365Directories = createGraphM365Directories((connectionId) => services.m365.graph.forConnection(connectionId), services.config.graphBaseUrl);
  const provisioning = provisioningFor(services);
  const wiring: ImportWiring = {
    worker: {
      store: services.store,
      clock: services.clock,
      logger: services.logger.child({ component: 'import' }),
      sender: services.sender,
      notices: provisioning.notices,
      directoryHooks: services.directoryHooks,
      directories,
      maxAttempts: services.config.queueMaxDeliveries,
    },
    preview: { store: services.store, clock: services.clock, directories, pages: new GraphPageCache(services.clock), cursorKey: () => signingKey(services, 'preview-cursor') },
  };
  wired.set(services, wiring);
  return wiring;
}
