import path from 'node:path';
import { existsSync } from 'node:fs';

/** One binding of a registered function, as `@azure/functions` hands it to the host. */
export interface RegisteredBinding {
  readonly type: string;
  readonly direction: string;
  readonly [option: string]: unknown;
}

/** What `@azure/functions` registered with the host for one function. */
export interface Registration {
  readonly name: string;
  readonly bindings: Readonly<Record<string, RegisteredBinding>>;
  readonly trigger: RegisteredBinding;
  readonly handler: (...args: unknown[]) => unknown;
}

export const builtEntryPoint = path.resolve(__dirname, '../../dist/functions/index.js');

/**
 * Loads the built entry point (package.json `main`, what the Functions host loads) with the real
 * `@azure/functions` package against a stand-in for `@azure/functions-core`, the module the Node
 * worker provides, and returns every registration. `env` replaces the app settings for the load.
 */
export function loadRegistrations(env: Readonly<Record<string, string>>): { registrations: Registration[]; stderr: string[] } {
  if (!existsSync(builtEntryPoint)) throw new Error(`${builtEntryPoint} is missing: run npm run build first`);
  const registrations: Registration[] = [];
  const stderr: string[] = [];
  const saved = process.env;
  const error = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void stderr.push(args.map(String).join(' ')));
  process.env = { ...env };
  try {
    jest.isolateModules(() => {
      jest.doMock(
        '@azure/functions-core',
        () => ({
          setProgrammingModel: () => undefined,
          registerFunction: (metadata: { name: string; bindings: Record<string, RegisteredBinding> }, handler: (...args: unknown[]) => unknown) => {
            const trigger = Object.values(metadata.bindings).find((binding) => /trigger$/i.test(binding.type));
            if (trigger === undefined) throw new Error(`${metadata.name} has no trigger binding`);
            registrations.push({ name: metadata.name, bindings: metadata.bindings, trigger, handler });
            return { dispose: () => undefined };
          },
        }),
        { virtual: true },
      );
      jest.requireActual(builtEntryPoint);
    });
  } finally {
    process.env = saved;
    error.mockRestore();
  }
  return { registrations, stderr };
}
