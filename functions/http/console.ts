import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { HttpFunctionDefinition } from '../../src/app/functions/definition';
import { ConsoleAssets, defaultConsoleDir } from '../../src/app/console/console-assets';

let assets: ConsoleAssets | undefined;

/** The admin console (built into dist/web) at the site root; it calls only the public /api. */
export const consoleRoute: HttpFunctionDefinition = {
  kind: 'http',
  name: 'console',
  route: '{*path}',
  site: true,
  methods: ['GET'],
  handler: async (request: HttpRequest): Promise<HttpResponseInit> => {
    assets ??= new ConsoleAssets(defaultConsoleDir());
    return assets.serve(request.params.path ?? '', request.headers.get('accept-encoding') ?? undefined);
  },
};
