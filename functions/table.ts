import type { FunctionDefinition } from '../src/app/functions/definition';
import { health } from './http/health';
import { openApi } from './http/openapi';
import { createKey, deleteKey, listKeys } from './http/keys';

/**
 * Every function of the app, once. `functions/index.ts` registers them with the Azure Functions
 * host; the local host (`npm start`) serves the same table.
 */
export const functionTable: readonly FunctionDefinition[] = [
  health,
  openApi,
  createKey,
  listKeys,
  deleteKey,
];
